/** The options of {@linkcode perRequestBatch}, and their one check. */
import { checkOptionNames, describe } from "../_errors.ts";
import { nameOf } from "./_cache_options.ts";

/**
 * Options of {@linkcode perRequestBatch}.
 *
 * @typeParam K The load key's type.
 */
export interface PerRequestBatchOptions<K = unknown> {
  /**
   * The most keys one call of the batch function receives; the keys of a larger batch are split
   * into calls of this size, in order. A positive integer, or `Infinity`.
   *
   * @default {Infinity}
   */
  maxBatchSize?: number;
  /**
   * Makes the cache key of a load key, for load keys that are equal without being identical
   * (`(query) => query.id`). Its result is compared with SameValueZero. The batch function
   * still receives load keys: for each cache key, the first load key seen. If it throws, the
   * load rejects with that error and nothing is stored.
   *
   * @default {undefined} (load keys compared with SameValueZero, objects by identity)
   */
  key?: (key: K) => unknown;
  /**
   * Whether a rejected key stays cached. By default a key whose load rejects is dropped when it
   * rejects, so the next load in the same scope retries it.
   *
   * @default {false}
   */
  cacheRejections?: boolean;
  /**
   * The name shown in `scope.stats.functions` and in error messages.
   *
   * @default {batchFn.name, or "anonymous"}
   */
  name?: string;
}

const optionNames = ["maxBatchSize", "key", "cacheRejections", "name"];
const action = "create a per-request batch";

/** The options of a batched function, checked, with their defaults. */
export interface ValidBatchOptions {
  maxBatchSize: number;
  key: ((key: unknown) => unknown) | undefined;
  cacheRejections: boolean;
  name: string;
}

/** Checks a batched function's options once, when it is made. */
export function getValidBatchOptions(
  options: PerRequestBatchOptions | undefined,
  batchFn: (...args: never[]) => unknown,
): ValidBatchOptions {
  const fallbackName = nameOf(batchFn as (...args: unknown[]) => unknown);
  if (options === undefined) {
    return { maxBatchSize: Infinity, key: undefined, cacheRejections: false, name: fallbackName };
  }
  const own = checkOptionNames(options, optionNames, action);
  const { maxBatchSize = Infinity, key, cacheRejections = false, name = fallbackName }:
    PerRequestBatchOptions = own;
  if (typeof maxBatchSize !== "number") {
    throw new TypeError(
      `Cannot ${action}: maxBatchSize must be a number, received ${describe(maxBatchSize)}`,
    );
  }
  if (maxBatchSize !== Infinity && !(Number.isInteger(maxBatchSize) && maxBatchSize > 0)) {
    throw new RangeError(
      `Cannot ${action}: maxBatchSize must be a positive integer or Infinity, received ${maxBatchSize}`,
    );
  }
  if (key !== undefined && typeof key !== "function") {
    throw new TypeError(
      `Cannot ${action}: key must be a function of the load key, received ${describe(key)}`,
    );
  }
  if (typeof cacheRejections !== "boolean") {
    throw new TypeError(
      `Cannot ${action}: cacheRejections must be a boolean, received ${describe(cacheRejections)}`,
    );
  }
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `Cannot ${action}: name must be a non-empty string, received ${describe(name)}`,
    );
  }
  return { maxBatchSize, key, cacheRejections, name };
}

/**
 * Whether a key's rejection stays cached. The one place that decides it, so that a richer
 * `cacheRejections` (a predicate of the error and the key) changes only this function.
 */
export function keepsRejection(
  options: ValidBatchOptions,
  _error: unknown,
  _key: unknown,
): boolean {
  return options.cacheRejections;
}
