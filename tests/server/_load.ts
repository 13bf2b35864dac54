/**
 * A bounded load driver for tests against real servers: `total` requests, never more than
 * `concurrency` in flight, and a deadline after which every request still in flight is aborted.
 *
 * It waits for every request it started to settle before it returns or throws, so a test that
 * awaits it leaves no fetch running behind it (Deno's op sanitizer checks that), and it clears
 * its deadline timer on every path.
 */

/** Options of {@linkcode driveLoad}. */
export interface LoadOptions {
  /**
   * How many requests to send in all.
   *
   * @default {500}
   */
  total?: number;
  /**
   * How many requests may be in flight at once.
   *
   * @default {50}
   */
  concurrency?: number;
  /**
   * Milliseconds after which the requests still in flight are aborted and the load fails.
   *
   * @default {15_000}
   */
  deadline?: number;
}

/**
 * Calls `send(0)` … `send(total - 1)`, at most `concurrency` at a time, and returns their results
 * in that order. The first failure aborts the rest (through the signal `send` receives) and is
 * thrown once everything has settled.
 *
 * @typeParam T What one request yields.
 * @param send Sends request number `i`; it must consume the response body before resolving.
 * @param options How many requests, how many at once, and for how long.
 * @returns The results, indexed by request number.
 * @throws {RangeError} If `total` or `concurrency` is not a positive integer.
 */
export async function driveLoad<T>(
  send: (i: number, signal: AbortSignal) => Promise<T>,
  options: LoadOptions = {},
): Promise<T[]> {
  const { total = 500, concurrency = 50, deadline = 15_000 } = options;
  for (const [name, value] of [["total", total], ["concurrency", concurrency]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot drive load: ${name} must be a positive integer, received ${value}`,
      );
    }
  }
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort(new Error(`Cannot finish load: still running after ${deadline} ms`));
  }, deadline);
  const results: T[] = new Array(total);
  let next = 0;
  let failure: { error: unknown } | undefined;

  async function worker(): Promise<void> {
    while (next < total && !controller.signal.aborted) {
      const i = next++;
      try {
        results[i] = await send(i, controller.signal);
      } catch (error) {
        // The first failure is the one worth reporting; the aborts it causes are not.
        failure ??= { error: controller.signal.aborted ? controller.signal.reason : error };
        controller.abort(error);
      }
    }
  }

  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  } finally {
    clearTimeout(timer);
  }
  if (failure !== undefined) throw failure.error;
  return results;
}
