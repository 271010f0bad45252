import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Timer } from '../../../pipeline/clock.js';
import type { Settings } from '../../../pipeline/component.js';
import type { ClusterState } from '../cluster-state.js';
import type { PodSource } from '../pod-source.js';
import { parsePodsFile } from './parse.js';

/** Changes that arrive closer together than this are read once. */
const settleMs = 100;

/**
 * Pods from a file, reloaded when it changes. The directory is watched, not the file, so
 * replacing the file by rename (editors, `kubectl` ConfigMap mounts swapping a symlink) is
 * seen too; a reload whose text is unchanged does nothing. A file that does not parse at
 * start fails the start; later, a bad version is counted and logged once, and the last good
 * one stays in force.
 */
export class PodsFileSource implements PodSource {
  readonly #reloads;
  #watcher: FSWatcher | undefined;
  #timer: Timer | undefined;
  #lastText: string | undefined;
  #lastProblem = '';
  #reading: Promise<void> = Promise.resolve();
  #synced = false;
  #stopped = false;

  constructor(
    private readonly settings: Settings,
    private readonly path: string,
    private readonly annotation: string,
    private readonly state: ClusterState,
  ) {
    this.#reloads = settings.telemetry.counter(
      'l7flow_k8s_pods_file_loads_total',
      'Reads of the pods file, by result (loaded, unchanged, invalid, unreadable).',
      ['result'],
    );
  }

  get synced(): boolean {
    return this.#synced;
  }

  whenSynced(): Promise<void> {
    return this.#synced ? Promise.resolve() : Promise.reject(new Error('pods file not loaded'));
  }

  async start(): Promise<void> {
    if (this.#stopped) return;
    const result = parsePodsFile(
      await readFile(this.path, 'utf8').then((text) => (this.#lastText = text)),
      this.annotation,
    );
    if (!result.ok) throw new Error(`pods file ${this.path}: ${result.problems.join('; ')}`);
    this.state.replaceAll(result.pods, result.namespaces, this.settings.clock.nowUs());
    this.#reloads({ result: 'loaded' }).inc();
    this.#synced = true;
    const name = basename(this.path);
    this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
      if (file === null || file === name || file.startsWith('..')) this.#schedule();
    });
    this.#watcher.on('error', () => this.#schedule());
  }

  report(): void {
    // No one to tell but the log and the metric, which the processor handles.
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#watcher?.close();
    await this.#reading;
  }

  details(): Readonly<Record<string, unknown>> {
    return { pods: 'file', path: this.path };
  }

  #schedule(): void {
    if (this.#stopped || this.#timer !== undefined) return;
    this.#timer = this.settings.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#reading = this.#reading.then(() => this.#reload());
    }, settleMs);
  }

  async #reload(): Promise<void> {
    if (this.#stopped) return;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      this.#problem('unreadable', (error as NodeJS.ErrnoException).code ?? String(error));
      return;
    }
    if (text === this.#lastText) {
      this.#reloads({ result: 'unchanged' }).inc();
      return;
    }
    const result = parsePodsFile(text, this.annotation);
    if (!result.ok) {
      this.#problem('invalid', result.problems.join('; '));
      return;
    }
    this.#lastText = text;
    this.#lastProblem = '';
    this.state.replaceAll(result.pods, result.namespaces, this.settings.clock.nowUs());
    this.#reloads({ result: 'loaded' }).inc();
  }

  #problem(result: 'unreadable' | 'invalid', detail: string): void {
    this.#reloads({ result }).inc();
    if (detail === this.#lastProblem) return;
    this.#lastProblem = detail;
    this.settings.logger.warn(
      { path: this.path, problem: detail },
      'pods file not reloaded; keeping the last good one',
    );
  }
}
