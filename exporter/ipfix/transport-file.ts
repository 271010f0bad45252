import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { deferred } from '../../pipeline/once.js';
import { FileFull, type Connection, type Transport } from './transport.js';

export interface FileSettings {
  readonly path: string;
  /** A message that would take the file past this size goes to a new file instead. */
  readonly maxBytes: number;
  /** Rotated files kept (`path.1` newest); 0 keeps none. */
  readonly maxBackups: number;
}

/** What opening the file found and repaired. */
export interface FileOpenReport {
  /** Octets of an incomplete last message (a crash mid-write) cut off before appending. */
  readonly truncatedBytes: number;
}

/**
 * An RFC 5655 IPFIX file: messages back to back, no file header. The file is opened for
 * appending (never truncated): a restart adds a new session after the previous one, with
 * templates first and sequence numbers from 0. Before appending, the existing messages are
 * walked by their Length fields and an incomplete tail is cut off, so the file always
 * reads as whole messages. A file that does not start like IPFIX is left alone and the
 * open fails. When a message would pass `maxBytes`, the file is rotated (`path.1`, ...)
 * and a new session starts in a fresh file. The parent directory is created.
 */
export class FileTransport implements Transport {
  readonly name = 'file';
  readonly refreshesTemplates = false;
  #rotateOnOpen = false;

  constructor(
    private readonly settings: FileSettings,
    private readonly onOpen: (report: FileOpenReport) => void = () => {},
  ) {}

  async check(): Promise<void> {
    const connection = await this.open();
    await connection.close();
  }

  async open(): Promise<Connection> {
    const { path } = this.settings;
    await mkdir(dirname(path), { recursive: true, mode: 0o750 });
    if (this.#rotateOnOpen) {
      await this.#rotate();
      this.#rotateOnOpen = false;
    }
    // Flows name Pods and carry URLs: owner and group only (docs/security.md); applies on creation.
    const handle = await open(path, 'a+', 0o640);
    try {
      const { size, truncatedBytes } = await repairTail(handle, path);
      this.onOpen({ truncatedBytes });
      return new FileConnection(handle, size, this.settings.maxBytes, () => {
        this.#rotateOnOpen = true;
        return new FileFull(path);
      });
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async #rotate(): Promise<void> {
    const { path, maxBackups } = this.settings;
    if (maxBackups === 0) return rm(path, { force: true });
    for (let i = maxBackups - 1; i >= 1; i--) await renameIfPresent(`${path}.${i}`, `${path}.${i + 1}`);
    await renameIfPresent(path, `${path}.1`);
  }
}

/** Walks the message headers; cuts an incomplete last message. Returns the size after. */
async function repairTail(handle: FileHandle, path: string): Promise<{ size: number; truncatedBytes: number }> {
  const { size } = await handle.stat();
  const header = Buffer.alloc(4);
  let offset = 0;
  while (offset < size) {
    const { bytesRead } = await handle.read(header, 0, 4, offset);
    const version = header.readUInt16BE(0);
    const length = header.readUInt16BE(2);
    if (bytesRead < 4 || version !== 10 || length < 16 || offset + length > size) {
      if (offset === 0 && bytesRead === 4 && version !== 10)
        throw new Error(`${path} exists and is not an IPFIX file; refusing to append to it`);
      break;
    }
    offset += length;
  }
  if (offset < size) await handle.truncate(offset);
  return { size: offset, truncatedBytes: size - offset };
}

async function renameIfPresent(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

class FileConnection implements Connection {
  readonly kind = 'stream';
  readonly #ended = deferred<Error | undefined>();
  readonly ended = this.#ended.promise;
  #closed = false;
  #handleOpen = true;

  constructor(
    private readonly handle: FileHandle,
    /** Size after the last complete message: a failed write is cut back to it. */
    private size: number,
    private readonly maxBytes: number,
    private readonly full: () => Error,
  ) {}

  async write(message: Buffer): Promise<void> {
    if (this.#closed) throw new Error('file closed');
    if (this.size > 0 && this.size + message.length > this.maxBytes) {
      const error = this.full();
      this.#end(error);
      throw error;
    }
    try {
      let written = 0;
      while (written < message.length) {
        const { bytesWritten } = await this.handle.write(message, written, message.length - written);
        written += bytesWritten;
      }
      this.size += message.length;
    } catch (error) {
      // Never leave half a message: the next session appends after the last whole one.
      await this.handle.truncate(this.size).catch(() => {});
      this.#end(error as Error);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#end(undefined);
    if (!this.#handleOpen) return;
    this.#handleOpen = false;
    await this.handle.close();
  }

  #end(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ended.resolve(error);
  }
}
