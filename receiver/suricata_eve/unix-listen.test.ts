import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { lstat, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listenUnixSocket } from './unix-listen.js';

let dir = '';
let servers: Server[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'l7flow-eve-listen-'));
});
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  servers = [];
  await rm(dir, { recursive: true, force: true });
});

function server(): Server {
  const created = createServer((socket) => socket.end());
  servers.push(created);
  return created;
}

const connects = (path: string) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(path, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

describe('the EVE socket (docs/security.md)', () => {
  it('appears at its path only once it has its mode, never with the umask mode in between', async () => {
    const path = join(dir, 'run', 'eve.sock');
    const listener = server();
    // Where the socket is at the moment it starts listening, before its mode is set.
    let atListening: { bound: string; publicPathExists: boolean; stagingMode: number } | undefined;
    listener.once('listening', () => {
      const bound = listener.address() as string; // a Unix socket's address is its path
      atListening = { bound, publicPathExists: existsSync(path), stagingMode: statSync(dirname(bound)).mode & 0o777 };
    });
    const previousUmask = process.umask(0); // the worst case: a socket anyone may connect to
    try {
      await listenUnixSocket(listener, path, 0o600);
    } finally {
      process.umask(previousUmask);
    }
    expect(atListening).toMatchObject({ publicPathExists: false, stagingMode: 0o700 });
    expect(dirname(atListening?.bound ?? '')).not.toBe(dirname(path));
    expect((await lstat(path)).isSocket()).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dirname(path))).toEqual(['eve.sock']); // the private directory is gone
    expect(await connects(path)).toBe(true);
  });

  it('refuses to take a socket another process is listening on, which keeps working', async () => {
    const path = join(dir, 'other.sock');
    const other = server();
    await new Promise<void>((resolve) => other.listen(path, resolve));
    await expect(listenUnixSocket(server(), path, 0o660)).rejects.toThrow(/another process is listening on/);
    expect(await connects(path)).toBe(true);
    expect(await readdir(dir)).toEqual(['other.sock']);
  });

  it('replaces a socket left by a process that died', async () => {
    const path = join(dir, 'eve.sock');
    const killed = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(killed.signal).toBe('SIGKILL');
    expect(await connects(path)).toBe(false);
    await listenUnixSocket(server(), path, 0o660);
    expect(await connects(path)).toBe(true);
  });

  it('refuses a symbolic link or a file at the path, and leaves them alone', async () => {
    const target = join(dir, 'precious');
    await writeFile(target, 'data', { mode: 0o644 });
    await symlink(target, join(dir, 'link.sock'));
    await expect(listenUnixSocket(server(), join(dir, 'link.sock'), 0o660)).rejects.toThrow(/is not a socket/);
    await expect(listenUnixSocket(server(), target, 0o660)).rejects.toThrow(/is not a socket/);
    expect((await stat(target)).mode & 0o777).toBe(0o644);
    expect((await readdir(dir)).sort()).toEqual(['link.sock', 'precious']);
  });
});
