/**
 * What every part of the benchmark suite hands to `suite.ts`: rows of timings, and checks of a
 * measured value against one of issue 5's targets. A section (micro-benchmarks, memory, and
 * later HTTP and workers) knows how to time itself and how to smoke-test itself; the suite
 * only runs sections and prints what they return.
 */

/** One measured operation: the median over rounds of mitata's per-round median (p50). */
export interface Row {
  readonly name: string;
  /** Nanoseconds per operation. */
  readonly ns: number;
  /** Smallest and largest per-round p50, to show how stable the median is. */
  readonly spread: readonly [number, number];
}

/** A measured value next to its target, with the verdict. */
export interface Check {
  readonly name: string;
  /** The measured value, formatted (`1.32×`, `0.4 MiB`). */
  readonly value: string;
  /** The target, formatted (`≤ 1.5×`). */
  readonly target: string;
  /** `undefined` for a value reported for information, with no target. */
  readonly pass: boolean | undefined;
  /** "by how much": the margin to the target, or how far past it the value is. */
  readonly detail: string;
}

/** What a section measured. */
export interface SectionResult {
  readonly rows: readonly Row[];
  readonly checks: readonly Check[];
  /** Lines printed under the section's tables (how it was measured, what was skipped). */
  readonly notes: readonly string[];
}

/** One part of the suite. */
export interface Section {
  readonly title: string;
  /** Times the section; `rounds` repeats every measurement, interleaved, to take medians. */
  measure(rounds: number): Promise<SectionResult>;
  /** Runs every benchmark body a few times, untimed, and asserts it does what it claims. */
  smoke(): Promise<void>;
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** How long mitata samples one case in one round (it keeps going until both are reached). */
export const mitataTiming: { min_cpu_time: number; min_samples: number } = {
  min_cpu_time: 300e6,
  min_samples: 12,
};

/** A case's row: the median over rounds, and the smallest and largest round. */
export function rowOf(name: string, samples: readonly number[]): Row {
  return { name, ns: median(samples), spread: [Math.min(...samples), Math.max(...samples)] };
}

/**
 * The ratio of two cases measured in the same rounds: taken within each round, then the median
 * over rounds, so both sides of each ratio were measured a few seconds apart at most.
 */
export function medianRatio(of: readonly number[], over: readonly number[]): number {
  return median(of.map((ns, round) => ns / over[round]));
}

/**
 * Checks `ratio` against "at most `max`": PASS with the margin left, or MISS with how far past
 * the target it is ("by 23%" means 1.23× the allowed ratio).
 */
export function ratioCheck(name: string, ratio: number, max: number | undefined): Check {
  const value = `${ratio.toFixed(2)}×`;
  if (max === undefined) return { name, value, target: "—", pass: undefined, detail: "" };
  const pass = ratio <= max;
  const detail = pass
    ? `${percent(1 - ratio / max)} under`
    : `by ${percent(ratio / max - 1)}; needs ${percent(1 - max / ratio)} off`;
  return { name, value, target: `≤ ${max}×`, pass, detail };
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(0)}%`;
}

/**
 * `order` rotated by `round`, for interleaved rounds: no case always runs first (after a
 * pause) or right after the same other case.
 */
export function rotated<T>(order: readonly T[], round: number): T[] {
  const start = round % order.length;
  return [...order.slice(start), ...order.slice(0, start)];
}
