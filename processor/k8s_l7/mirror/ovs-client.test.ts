import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExecOvsClient, OvsCommandError } from './ovs-client.js';
import { mirrorSettings } from '../../../test/support/k8s-l7-mirror-settings.js';

/**
 * The shell around the OVS tools, with stand-in executables: how failures, time limits and
 * OVS_RUNDIR reach the tool. (The real tools are exercised by real-ovs.test.ts.)
 */

const settings = mirrorSettings('openflow');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7k8s-exec-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tool(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

describe('OVS command shell', () => {
  it("turns a failing run into an OvsCommandError carrying the tool's own message", async () => {
    const vsctl = await tool(
      'ovs-vsctl',
      'echo "ovs-vsctl: unix:/run/openvswitch/db.sock: database connection failed (No such file or directory)" >&2; exit 1',
    );
    const client = new ExecOvsClient(settings, { vsctlPath: vsctl, ofctlPath: vsctl, rundir: '', timeoutMs: 5000 });
    const failure = client.read();
    await expect(failure).rejects.toBeInstanceOf(OvsCommandError);
    await expect(failure).rejects.toThrow(/database connection failed/);
  });

  it('gives up on a tool that hangs after the command timeout', async () => {
    const slow = await tool('ovs-ofctl', 'sleep 5');
    const client = new ExecOvsClient(settings, { vsctlPath: slow, ofctlPath: slow, rundir: '', timeoutMs: 200 });
    await expect(client.apply([{ op: 'set-no-flood', port: 'antrea-l7-tap0' }])).rejects.toThrow(/timed out/);
  });

  it('passes flow changes on stdin and the rundir as OVS_RUNDIR', async () => {
    const seen = join(dir, 'seen');
    const ofctl = await tool('ovs-ofctl', `{ echo "$OVS_RUNDIR"; echo "$@"; cat; } > ${seen}`);
    const client = new ExecOvsClient(settings, {
      vsctlPath: ofctl,
      ofctlPath: ofctl,
      rundir: '/tmp/private-ovs',
      timeoutMs: 5000,
    });
    await client.apply([
      { op: 'add-flows', flows: [{ table: 0, priority: 200, match: 'in_port=1', actions: 'output:3,NORMAL' }] },
    ]);
    expect((await readFile(seen, 'utf8')).split('\n')).toEqual([
      '/tmp/private-ovs',
      '--timeout=5 --bundle add-flows br-int -',
      'add cookie=0x6c37666c6f77,table=0,priority=200,in_port=1 actions=output:3,NORMAL',
      '',
    ]);
  });

  it('purges the datapath flows with the ovs-appctl beside ovs-vsctl, in the same OVS_RUNDIR', async () => {
    const seen = join(dir, 'seen');
    const vsctl = await tool('ovs-vsctl', `echo "vsctl $@" >> ${seen}`);
    await tool('ovs-appctl', `echo "appctl $OVS_RUNDIR $@" >> ${seen}`);
    const client = new ExecOvsClient(settings, {
      vsctlPath: vsctl,
      ofctlPath: vsctl,
      rundir: '/tmp/private-ovs',
      timeoutMs: 5000,
    });
    await client.apply([
      {
        op: 'delete-mirror',
        bridge: '5a02cc83-93da-4a93-8fac-ba255f8cc1e9',
        uuid: '03dd291b-1858-440b-9aac-18a62f592293',
      },
    ]);
    expect((await readFile(seen, 'utf8')).split('\n')).toEqual([
      'vsctl --timeout=5 -- remove Bridge 5a02cc83-93da-4a93-8fac-ba255f8cc1e9 mirrors 03dd291b-1858-440b-9aac-18a62f592293',
      'appctl /tmp/private-ovs --timeout=5 revalidator/purge',
      '',
    ]);
  });

  it('reports a tool that is not there', async () => {
    const client = new ExecOvsClient(settings, {
      vsctlPath: join(dir, 'missing'),
      ofctlPath: join(dir, 'missing'),
      rundir: '',
      timeoutMs: 1000,
    });
    await expect(client.read()).rejects.toThrow(/ENOENT/);
  });
});
