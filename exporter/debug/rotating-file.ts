import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * An append-only file that rotates by size: when a write would take it past `maxBytes`, the
 * file becomes `path.1` (older backups shift to `path.2` ... `path.maxBackups`, the oldest
 * is deleted) and a new file is started. A write is never split across files. Not
 * re-entrant: callers await each write before the next.
 */
export class RotatingFile {
  #handle: FileHandle | undefined;
  #size = 0;

  constructor(
    readonly path: string,
    readonly maxBytes: number,
    readonly maxBackups: number,
  ) {}

  async open(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o750 });
    // Records name Pods and carry URLs and host names: not for every user of the host
    // (docs/security.md). The mode applies when the file is created.
    this.#handle = await open(this.path, 'a', 0o640);
    this.#size = (await this.#handle.stat()).size;
  }

  async write(text: string): Promise<void> {
    if (!this.#handle) throw new Error(`${this.path} is not open`);
    const bytes = Buffer.byteLength(text);
    if (this.#size > 0 && this.#size + bytes > this.maxBytes) await this.#rotate();
    await this.#handle.write(text);
    this.#size += bytes;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }

  async #rotate(): Promise<void> {
    await this.close();
    if (this.maxBackups === 0) {
      await rm(this.path, { force: true });
    } else {
      for (let i = this.maxBackups - 1; i >= 1; i--)
        await renameIfPresent(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      await rename(this.path, `${this.path}.1`);
    }
    await this.open();
  }
}

async function renameIfPresent(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
