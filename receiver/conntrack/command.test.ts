import { describe, expect, it } from 'vitest';
import { systemClock } from '../../pipeline/clock.js';
import { runCommand } from './command.js';
import type { OutputRun } from './source.js';

/** Runs a Node script as the child: a real process with no shell in between. */
const node = (script: string, ...args: string[]) => [process.execPath, ['-e', script, ...args]] as const;

async function collect(run: OutputRun): Promise<string> {
  let text = '';
  for await (const chunk of run.output) text += chunk;
  return text;
}

describe('runCommand', () => {
  it('streams stdout and reports a zero exit as ok', async () => {
    const run = runCommand(...node('for (let i = 0; i < 3; i++) console.log("line " + i)'), { clock: systemClock });
    expect(await collect(run)).toBe('line 0\nline 1\nline 2\n');
    expect(await run.done).toEqual({ ok: true });
  });

  it('passes arguments verbatim: no shell expands or splits them', async () => {
    const tricky = ['$(echo no)', 'a b; rm -rf /', '*', '"q"'];
    const run = runCommand(...node('console.log(JSON.stringify(process.argv.slice(1)))', ...tricky), {
      clock: systemClock,
    });
    expect(JSON.parse(await collect(run))).toEqual(tricky);
  });

  it('a non-zero exit fails, with the exit code and the end of stderr in the detail', async () => {
    const run = runCommand(...node('console.error("conntrack: operation not permitted"); process.exit(1)'), {
      clock: systemClock,
    });
    await collect(run);
    const result = await run.done;
    expect(result).toMatchObject({ ok: false, reason: 'failed' });
    expect(!result.ok && result.detail).toMatch(/exit code 1: conntrack: operation not permitted$/);
  });

  it('a binary that does not exist fails, and its output simply ends', async () => {
    const run = runCommand('/nonexistent/l7ct-conntrack', ['-L'], { clock: systemClock });
    expect(await collect(run)).toBe('');
    const result = await run.done;
    expect(result).toMatchObject({ ok: false, reason: 'failed' });
    expect(!result.ok && result.detail).toMatch(/ENOENT/);
  });

  it('arguments spawn() refuses make a failed run, not an exception', async () => {
    const run = runCommand('conntrack', ['-L', 'a\u0000b'], { clock: systemClock });
    expect(await collect(run)).toBe('');
    expect(await run.done).toMatchObject({ ok: false, reason: 'failed' });
  });

  it('kills a run that outlives its timeout', async () => {
    const run = runCommand(...node('setInterval(() => {}, 1000)'), { clock: systemClock, timeoutMs: 300 });
    await collect(run);
    const result = await run.done;
    expect(result).toMatchObject({ ok: false, reason: 'timed_out' });
    expect(!result.ok && result.detail).toMatch(/killed by SIGKILL/);
  });

  it('cancel() stops a long-running stream', async () => {
    const run = runCommand(...node('console.log("listening"); setInterval(() => {}, 1000)'), { clock: systemClock });
    const output = run.output[Symbol.asyncIterator]();
    expect((await output.next()).value).toBe('listening\n');
    run.cancel();
    expect(await run.done).toMatchObject({ ok: false, reason: 'cancelled' });
    expect((await output.next()).done).toBe(true);
  });

  it('hands over stderr line by line and adds environment variables', async () => {
    const lines: string[] = [];
    const run = runCommand(
      ...node('process.stderr.write("WARNING: We have hit ENOBUFS!\\nrundir=" + process.env.OVS_RUNDIR + "\\n")'),
      { clock: systemClock, env: { OVS_RUNDIR: '/run/l7ct-test' }, onStderrLine: (line) => lines.push(line) },
    );
    await collect(run);
    await run.done;
    expect(lines).toEqual(['WARNING: We have hit ENOBUFS!', 'rundir=/run/l7ct-test']);
  });
});
