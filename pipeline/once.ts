/** A promise with its settle functions (Node 20 has no Promise.withResolvers). */
export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Memoises an async function: the first call runs it, every later call gets the same
 * promise. Used to make shutdown() idempotent.
 */
export function once<A extends unknown[], T>(fn: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  let result: Promise<T> | undefined;
  return (...args: A) => (result ??= fn(...args));
}
