import { mkdir, open, readFile, rename, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { sleep, type Clock } from '../../pipeline/clock.js';
import { deferred } from '../../pipeline/once.js';
import type { L7Event } from '../../pipeline/records.js';
import type { BoundCounter } from '../../pipeline/telemetry.js';
import type { EveStream } from './eve-stream.js';

export interface FileSourceOptions {
  readonly path: string;
  readonly startAt: 'end' | 'beginning';
  /** Keep following growth and rotation; false reads to the end once and completes. */
  readonly follow: boolean;
  /** Where the read position is saved ('' for nowhere). */
  readonly offsetFile: string;
  readonly pollIntervalMs: number;
  readonly clock: Clock;
  readonly newStream: () => EveStream;
  readonly deliver: (events: L7Event[]) => Promise<void>;
  readonly metrics: { readonly rotations: BoundCounter; readonly truncations: BoundCounter };
  /** Reports a read error (the source keeps retrying on the next poll). */
  readonly onError: (error: Error) => void;
}

/** What the offset file holds: a position at a line boundary in one particular file. */
interface SavedOffset {
  readonly dev: number;
  readonly ino: number;
  readonly offset: number;
}

const readChunkBytes = 64 * 1024;

/**
 * Tails a regular EVE file like `tail -F`: follows rotation by rename (the old file is read to
 * its end through the open descriptor before the new one is opened) and by truncation
 * (copytruncate: reading restarts at 0). The saved offset always sits at a line boundary
 * after delivered data, so a restart neither loses nor repeats lines of the same file.
 */
export class FileSource {
  readonly #done = deferred();
  readonly #stop = new AbortController();
  #handle: FileHandle | undefined;
  #identity: { dev: number; ino: number } | undefined;
  #stream: EveStream | undefined;
  /** Bytes of the current file consumed (framed), including a partial last line. */
  #offset = 0;
  #loop: Promise<void> | undefined;

  constructor(private readonly options: FileSourceOptions) {}

  /** Resolves once a non-following source has read its file to the end (or was stopped). */
  get completed(): Promise<void> {
    return this.#done.promise;
  }

  async start(): Promise<void> {
    await this.#openCurrent(true);
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#saveOffset();
    await this.#handle?.close();
    this.#handle = undefined;
    this.#done.resolve();
  }

  async #run(): Promise<void> {
    const { follow, pollIntervalMs, clock } = this.options;
    while (!this.#stop.signal.aborted) {
      try {
        await this.#readToEnd();
        if (!follow) {
          await this.#deliver(this.#stream?.end(true) ?? []);
          break;
        }
        await this.#checkRotation();
        await this.#saveOffset();
      } catch (error) {
        this.options.onError(error as Error);
      }
      await sleep(clock, pollIntervalMs, this.#stop.signal);
    }
    this.#done.resolve();
  }

  /** Opens the file at `path`, positioned per the saved offset or `start_at`. */
  async #openCurrent(initial: boolean): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(this.options.path, 'r');
    } catch (error) {
      // A followed file may not exist yet (Suricata not started, or mid-rotation).
      if (this.options.follow && (error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const info = await handle.stat();
    this.#handle = handle;
    this.#identity = { dev: info.dev, ino: info.ino };
    this.#stream = this.options.newStream();
    this.#offset = 0;
    if (!initial) return;
    const saved = await this.#loadOffset();
    if (saved && saved.dev === info.dev && saved.ino === info.ino && saved.offset <= info.size)
      this.#offset = saved.offset;
    else if (this.options.startAt === 'end' && !saved) this.#offset = info.size;
  }

  async #readToEnd(): Promise<void> {
    if (!this.#handle) return this.#openCurrent(false);
    for (;;) {
      if (this.#stop.signal.aborted) return;
      const buffer = Buffer.allocUnsafe(readChunkBytes);
      const { bytesRead } = await this.#handle.read(buffer, 0, readChunkBytes, this.#offset);
      if (bytesRead === 0) return;
      this.#offset += bytesRead;
      await this.#deliver(this.#stream?.push(buffer.subarray(0, bytesRead)) ?? []);
    }
  }

  /** Detects rotation by rename (another file at the path) and by truncation. */
  async #checkRotation(): Promise<void> {
    if (!this.#handle) return;
    let current;
    try {
      current = await stat(this.options.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // renamed away; the new file comes later
      throw error;
    }
    if (current.ino !== this.#identity?.ino || current.dev !== this.#identity.dev) {
      await this.#readToEnd(); // the rotated file's last lines, through the open descriptor
      await this.#deliver(this.#stream?.end(true) ?? []);
      await this.#handle.close();
      this.#handle = undefined;
      this.options.metrics.rotations.inc();
      await this.#openCurrent(false);
      await this.#readToEnd();
    } else if (current.size < this.#offset) {
      this.#stream?.end(false);
      this.#stream = this.options.newStream();
      this.#offset = 0;
      this.options.metrics.truncations.inc();
      await this.#readToEnd();
    }
  }

  async #deliver(events: L7Event[]): Promise<void> {
    if (events.length > 0) await this.options.deliver(events);
  }

  async #loadOffset(): Promise<SavedOffset | undefined> {
    if (this.options.offsetFile === '') return undefined;
    try {
      const saved = JSON.parse(await readFile(this.options.offsetFile, 'utf8')) as Partial<SavedOffset>;
      if (typeof saved.dev === 'number' && typeof saved.ino === 'number' && typeof saved.offset === 'number') {
        return { dev: saved.dev, ino: saved.ino, offset: saved.offset };
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.options.onError(error as Error);
    }
    return undefined;
  }

  /** Writes the position of the last complete line, atomically (write then rename). */
  async #saveOffset(): Promise<void> {
    if (this.options.offsetFile === '' || !this.#identity || !this.#stream) return;
    const saved: SavedOffset = { ...this.#identity, offset: this.#offset - this.#stream.pendingBytes };
    const temporary = `${this.options.offsetFile}.tmp`;
    await mkdir(dirname(this.options.offsetFile), { recursive: true });
    await writeFile(temporary, `${JSON.stringify(saved)}\n`);
    await rename(temporary, this.options.offsetFile);
  }
}
