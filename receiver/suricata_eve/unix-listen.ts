import { chmod, lstat, mkdir, mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { dirname, join } from 'node:path';

/**
 * Binds `server` to the Unix socket `path` so that nobody can connect to it with permissions
 * other than `mode` (docs/security.md, "The EVE socket"). Binding creates the socket with the
 * process umask, and a chmod afterwards leaves a window in which it is reachable with those
 * permissions, and would follow a symbolic link put at `path` meanwhile. So the socket is bound
 * in a fresh private directory (0700) beside `path`, given its mode there, and renamed into
 * place: it appears at `path` with its final mode, atomically.
 *
 * What is at `path` already: nothing, or a socket left by a previous run (removed). A socket
 * some process still listens on is refused (it is not ours to take), and so is anything else.
 */
export async function listenUnixSocket(server: Server, path: string, mode: number): Promise<void> {
  const directory = dirname(path);
  await mkdir(directory, { recursive: true, mode: 0o750 });
  await removeStaleSocket(path);
  const staging = await mkdtemp(join(directory, '.l7flow-'));
  try {
    // A one-letter name: the staged path must fit sun_path (108 bytes) whenever `path` does.
    const staged = join(staging, 's');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(staged, () => {
        server.off('error', reject);
        resolve();
      });
    });
    try {
      await chmod(staged, mode);
      await rename(staged, path);
    } catch (error) {
      await new Promise((resolve) => server.close(resolve));
      throw error;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Removes a socket nobody listens on; refuses a live socket and anything that is not a socket. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    const stat = await lstat(path);
    if (!stat.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (await listening(path))
    throw new Error(`another process is listening on ${path}; refusing to take its socket (is l7flow running?)`);
  await unlink(path);
}

/** Whether a connection to the socket at `path` is accepted (ECONNREFUSED: a stale socket). */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(true); // queued but not accepted yet: someone is bound to it
    }, 1000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ECONNREFUSED') resolve(false);
      else reject(new Error(`cannot tell whether ${path} is in use: ${error.message}`, { cause: error }));
    });
  });
}
