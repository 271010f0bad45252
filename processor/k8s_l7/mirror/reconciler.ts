import type { Clock, Timer } from '../../../pipeline/clock.js';
import type { Logger } from '../../../pipeline/logger.js';
import type { ComponentTelemetry } from '../../../pipeline/telemetry.js';
import type { MirrorCandidate } from '../cluster-state.js';
import { OvsCommandError, type OvsClient } from './ovs-client.js';
import { planCleanup, planMirrors, type MirrorSettings } from './plan.js';

export interface ReconcilerOptions {
  readonly client: OvsClient;
  readonly settings: MirrorSettings;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly telemetry: ComponentTelemetry;
  /** Full reconcile at least this often, so a restarted ovs-vswitchd (which drops flows) converges. */
  readonly resyncMs: number;
  readonly cleanupOnExit: boolean;
  /** The Pods that should be mirrored now. */
  readonly candidates: () => readonly MirrorCandidate[];
  /** First retry delay after a failure; doubles up to resyncMs. */
  readonly retryMs?: number;
}

/**
 * Keeps OVS in the desired state: reads what OVS holds, plans, applies. Runs when asked
 * (a change of the candidates; requests made during a run coalesce into one more run), every
 * resync period, and sooner after a failure or while an opted-in Pod has no port yet (capped
 * exponential backoff). Never throws from the background: failures are counted, logged when
 * the situation changes, and retried.
 */
export class MirrorReconciler {
  readonly #runs;
  readonly #errors;
  readonly #changes;
  readonly #duration;
  readonly #pods;
  #started = false;
  #closed = false;
  #pending = false;
  #running: Promise<void> | undefined;
  #timer: Timer | undefined;
  #retryMs: number;
  #lastProblems = '';

  constructor(private readonly options: ReconcilerOptions) {
    const t = options.telemetry;
    this.#runs = t.counter('l7flow_k8s_mirror_reconcile_runs_total', 'Mirror reconcile runs.')();
    this.#errors = t.counter(
      'l7flow_k8s_mirror_reconcile_errors_total',
      'Mirror reconcile runs that could not reach the desired state, by reason.',
      ['reason'],
    );
    this.#changes = t.counter('l7flow_k8s_mirror_changes_total', 'Changes applied to OVS, by operation.', ['op']);
    this.#duration = t.histogram(
      'l7flow_k8s_mirror_reconcile_duration_seconds',
      'Time of one mirror reconcile run (read, plan, apply).',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    )();
    this.#pods = t.gauge(
      'l7flow_k8s_mirror_pods',
      'Opted-in Pods by mirror state: desired (port found), installed (mirrored in OVS), without_port.',
      ['state'],
    );
    this.#retryMs = this.#firstRetryMs;
  }

  /** Begins reconciling; call once the Pod state is complete (informers synced). */
  start(): void {
    if (this.#closed || this.#started) return;
    this.#started = true;
    this.request();
  }

  /** Asks for a run soon; cheap to call on every change. */
  request(): void {
    if (!this.#started || this.#closed) return;
    this.#pending = true;
    this.#running ??= this.#drain();
  }

  /** Waits for the current run (if any). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops the loop; with cleanup_on_exit removes everything l7flow installed. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timer?.cancel();
    await this.idle();
    if (!this.#started || !this.options.cleanupOnExit) return;
    try {
      const changes = planCleanup(await this.options.client.read(), this.options.settings);
      await this.options.client.apply(changes);
      for (const change of changes) this.#changes({ op: change.op }).inc();
    } catch (error) {
      this.#errors({ reason: reasonOf(error) }).inc();
      this.options.logger.warn({ err: error }, 'could not remove the mirrors at shutdown');
    }
  }

  get #firstRetryMs(): number {
    return Math.min(this.options.retryMs ?? 1000, this.options.resyncMs);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending && !this.#closed) {
        this.#pending = false;
        await this.#runOnce();
      }
    } finally {
      this.#running = undefined;
    }
  }

  async #runOnce(): Promise<void> {
    this.#timer?.cancel();
    const began = this.options.clock.nowUs();
    let retry = false;
    const problems: string[] = [];
    try {
      const plan = planMirrors(this.options.candidates(), await this.options.client.read(), this.options.settings);
      if (plan.changes.length > 0) await this.options.client.apply(plan.changes);
      for (const change of plan.changes) this.#changes({ op: change.op }).inc();
      for (const problem of plan.problems) {
        this.#errors({ reason: problem.reason }).inc();
        problems.push(problem.message);
      }
      this.#pods({ state: 'desired' }).set(plan.desiredPods);
      this.#pods({ state: 'installed' }).set(plan.problems.length === 0 ? plan.desiredPods : plan.installedPods);
      this.#pods({ state: 'without_port' }).set(plan.withoutPort.length);
      retry = plan.problems.length > 0 || plan.withoutPort.length > 0;
    } catch (error) {
      this.#errors({ reason: reasonOf(error) }).inc();
      problems.push(error instanceof Error ? error.message : String(error));
      retry = true;
    }
    this.#runs.inc();
    this.#duration.observe((this.options.clock.nowUs() - began) / 1e6);
    this.#logTransition(problems);
    if (this.#closed) return;
    let delayMs = this.options.resyncMs;
    if (retry) {
      delayMs = this.#retryMs;
      this.#retryMs = Math.min(this.#retryMs * 2, this.options.resyncMs);
    } else {
      this.#retryMs = this.#firstRetryMs;
    }
    this.#timer = this.options.clock.setTimeout(() => this.request(), delayMs);
  }

  /** One line when reconciling starts failing (or fails differently), one when it recovers. */
  #logTransition(problems: readonly string[]): void {
    const key = problems.join('\n');
    if (key === this.#lastProblems) return;
    if (key === '') this.options.logger.info({}, 'mirror reconcile recovered');
    else this.options.logger.error({ problems }, 'mirror reconcile cannot reach the desired state; retrying');
    this.#lastProblems = key;
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof OvsCommandError) return 'ovs_command';
  if (error instanceof Error && error.name === 'OvsOutputError') return 'ovs_output';
  return 'internal';
}
