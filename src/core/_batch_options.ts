/** The options of {@linkcode perRequestBatch}, and their one check. */
import { checkOptionNames } from "../_errors.ts";
import { getValidCallback, getValidLimit, getValidName } from "./_option_checks.ts";
import { getValidOutsideScope, type OutsideScopeMode } from "./_outside_scope.ts";
import { getValidRejectionPolicy, type RejectionPolicy } from "./_rejection_policy.ts";

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
   * Whether a rejected key stays cached. By default a key whose load rejects (an `Error` in its
   * slot, or a failed batch) is dropped when it rejects, so the next load in the same scope
   * sends it again; `true` keeps every rejection for the rest of the request. A predicate
   * decides per error: the rejection stays exactly when it returns `true` (keep a "no such
   * user", retry a timeout). If the predicate throws, the rejection is not cached, the load
   * still rejects with its own error, and the predicate's error is reported once per function
   * through `console.error`.
   *
   * @default {false}
   */
  cacheRejections?: boolean | ((error: unknown) => boolean);
  /**
   * Gives the tags of a key's entry, from its load key (`(id) => [`user:${id}`]`), evaluated
   * once, when the key misses and joins the batch. `invalidateTags(tag)` then drops, in the
   * current scope, every entry of every cached or batched function that carries the tag, even
   * one whose batch is still pending or in flight. It must return an array of strings: anything
   * else (or a throw) rejects the load with a `TypeError`, and nothing is stored.
   *
   * @default {undefined} (entries carry no tags)
   */
  tags?: (key: K) => readonly string[];
  /**
   * What a load does when no cache scope is open: `"run"` runs it as a batch of one, uncached;
   * `"warn"` also warns once for this function through `console.warn`; `"throw"` throws a
   * `TypeError` naming it and the fix, synchronously, like the other misuse errors of a load.
   * Left out, the process-wide default of `configureCache` applies, read at each such load.
   *
   * @default {undefined} (`configureCache`'s `outsideScope`, itself `"run"` by default)
   */
  outsideScope?: OutsideScopeMode;
  /**
   * The name shown in `scope.stats.functions` and in error messages.
   *
   * @default {batchFn.name, or "anonymous"}
   */
  name?: string;
}

const optionNames = ["maxBatchSize", "key", "cacheRejections", "tags", "outsideScope", "name"];
const action = "create a per-request batch";

/** The options of a batched function, checked, with their defaults. */
export interface ValidBatchOptions {
  maxBatchSize: number;
  key: ((key: unknown) => unknown) | undefined;
  cacheRejections: RejectionPolicy;
  tags: ((key: unknown) => unknown) | undefined;
  outsideScope: OutsideScopeMode | undefined;
  name: string;
}

/** Checks a batched function's options once, when it is made. */
export function getValidBatchOptions(
  options: PerRequestBatchOptions | undefined,
  batchFn: (...args: never[]) => unknown,
): ValidBatchOptions {
  const own = checkOptionNames(options === undefined ? {} : options, optionNames, action);
  return {
    maxBatchSize: getValidLimit(own.maxBatchSize, "maxBatchSize", action),
    key: getValidCallback(own.key, "key", "a function of the load key", action),
    cacheRejections: getValidRejectionPolicy(own.cacheRejections, action),
    tags: getValidCallback(
      own.tags,
      "tags",
      "a function of the load key that returns an array of strings",
      action,
    ),
    outsideScope: getValidOutsideScope(own.outsideScope, action),
    name: getValidName(own.name, batchFn, action),
  };
}
