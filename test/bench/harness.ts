/**
 * A small benchmark harness: every figure is printed beside a baseline measured in the same
 * run, as a ratio, so that a noisy shared machine slows both alike. Medians of several rounds.
 */

export interface Measurement {
  /** Median operations per second over the rounds. */
  readonly opsPerSecond: number;
  readonly rounds: readonly number[];
}

/**
 * Runs `fn(n)` (which performs n operations) repeatedly: a warm-up, then `rounds` timed rounds
 * of about `roundMs` each. Returns the median rate.
 */
export function measure(fn: (n: number) => void, options: { rounds?: number; roundMs?: number } = {}): Measurement {
  const rounds = options.rounds ?? 7;
  const n = calibrate(fn, options.roundMs ?? 300);
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const began = process.hrtime.bigint();
    fn(n);
    const seconds = Number(process.hrtime.bigint() - began) / 1e9;
    rates.push(n / seconds);
  }
  return { opsPerSecond: median(rates), rounds: rates };
}

/**
 * Measures several functions in alternating rounds (A, B, A, B, ...), so that load from other
 * processes on a shared machine falls on all of them alike; returns the median rate of each.
 */
export function compare<K extends string>(
  fns: Readonly<Record<K, (n: number) => void>>,
  options: { rounds?: number; roundMs?: number } = {},
): Record<K, Measurement> {
  const names = Object.keys(fns) as K[];
  const sizes = {} as Record<K, number>;
  for (const name of names) sizes[name] = calibrate(fns[name], options.roundMs ?? 300);
  const rates = Object.fromEntries(names.map((name) => [name, [] as number[]])) as unknown as Record<K, number[]>;
  for (let r = 0; r < (options.rounds ?? 7); r++) {
    for (const name of names) {
      const began = process.hrtime.bigint();
      fns[name](sizes[name]);
      rates[name].push(sizes[name] / (Number(process.hrtime.bigint() - began) / 1e9));
    }
  }
  return Object.fromEntries(
    names.map((name) => [name, { opsPerSecond: median(rates[name]), rounds: rates[name] }]),
  ) as unknown as Record<K, Measurement>;
}

/** Warms `fn` up and returns how many operations make a round of about `roundMs`. */
function calibrate(fn: (n: number) => void, roundMs: number): number {
  let n = 1;
  for (;;) {
    const began = process.hrtime.bigint();
    fn(n);
    const ms = Number(process.hrtime.bigint() - began) / 1e6;
    if (ms >= roundMs / 4) return Math.max(1, Math.round((n * roundMs) / ms));
    n *= 4;
  }
}

/** Same as measure() for asynchronous work. */
export async function measureAsync(
  fn: (n: number) => Promise<void>,
  options: { rounds?: number; n: number },
): Promise<Measurement> {
  await fn(Math.max(1, Math.floor(options.n / 10)));
  const rates: number[] = [];
  for (let r = 0; r < (options.rounds ?? 5); r++) {
    const began = process.hrtime.bigint();
    await fn(options.n);
    rates.push(options.n / (Number(process.hrtime.bigint() - began) / 1e9));
  }
  return { opsPerSecond: median(rates), rounds: rates };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export interface Row {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** Same-run baseline of the same unit; the ratio printed is value / baseline. */
  readonly baseline?: { readonly name: string; readonly value: number };
  /** A goal the issue sets, printed as met or not. */
  readonly goal?: { readonly value: number; readonly atLeast: boolean };
}

const format = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3));

/** Prints one result line: figure, baseline, ratio, and the goal when one is set. */
export function report(row: Row): void {
  let line = `  ${row.name}: ${format(row.value)} ${row.unit}`;
  if (row.baseline)
    line += ` | baseline (${row.baseline.name}): ${format(row.baseline.value)} ${row.unit} | ratio ${(row.value / row.baseline.value).toFixed(2)}`;
  if (row.goal) {
    const met = row.goal.atLeast ? row.value >= row.goal.value : row.value <= row.goal.value;
    line += ` | goal ${row.goal.atLeast ? '>=' : '<='} ${format(row.goal.value)}: ${met ? 'met' : 'NOT met'}`;
  }
  process.stdout.write(`${line}\n`);
}
