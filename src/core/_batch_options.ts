/** The options of {@linkcode perRequestBatch}, and their one check. */
import { checkOptionNames, describe } from "../_errors.ts";
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
   * When a batch leaves: called once for each new batch (on the load that starts it, in the
   * request's scope) with the `dispatch` that sends it; the batch leaves when `dispatch` is
   * called (a second call does nothing), or at once when it reaches `maxBatchSize`, or when
   * the scope ends, whichever comes first: a schedule that never calls `dispatch` holds its
   * loads until the scope ends. `(dispatch) => setTimeout(dispatch, 5)` lets loads made after
   * an `await` share the batch. A `dispatch` called while `schedule` runs takes effect when it
   * returns; if `schedule` throws, the batch fails: its loads reject with an `Error` whose
   * `cause` is the thrown error, and nothing is cached. Not used outside any scope, where a
   * load is a batch of one, sent at once.
   *
   * @default {undefined} (DataLoader's rule: once the promise jobs of the current tick have run)
   */
  schedule?: (dispatch: () => void) => void;
  /**
   * Whether a key's value stays cached in the scope. With `false`, the loads of one batch are
   * still de-duplicated (a repeat joins its key's slot), but nothing is kept once the batch has
   * left: a later load of the key, even while the batch is in flight, goes into the next batch,
   * and no entry stays in the scope. `prime` then stores nothing and returns `false`,
   * `invalidate` and `clear` find nothing; `tags` and `cacheRejections` have nothing to act on
   * and are refused with it.
   *
   * @default {true}
   */
  cache?: boolean;
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

const optionNames = [
  "maxBatchSize",
  "schedule",
  "cache",
  "key",
  "cacheRejections",
  "tags",
  "outsideScope",
  "name",
];
const action = "create a per-request batch";

/** The options of a batched function, checked, with their defaults. */
export interface ValidBatchOptions {
  maxBatchSize: number;
  schedule: ((dispatch: () => void) => void) | undefined;
  cache: boolean;
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
  const valid: ValidBatchOptions = {
    maxBatchSize: getValidLimit(own.maxBatchSize, "maxBatchSize", action),
    schedule: getValidCallback(own.schedule, "schedule", "a function that calls dispatch", action),
    cache: getValidCache(own.cache),
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
  if (!valid.cache) {
    // With nothing kept, these two would be silently ignored: a caller who set them expects an
    // effect that cannot happen, so the combination is refused where it is written.
    if (valid.tags !== undefined) {
      refuseWithoutCache("tags", "no entry is kept for invalidateTags to drop", own.tags);
    }
    if (own.cacheRejections !== undefined && own.cacheRejections !== false) {
      refuseWithoutCache(
        "cacheRejections",
        "no entry is kept, rejected or not",
        own.cacheRejections,
      );
    }
  }
  return valid;
}

function getValidCache(value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== "boolean") {
    throw new TypeError(`Cannot ${action}: cache must be a boolean, received ${describe(value)}`);
  }
  return value;
}

function refuseWithoutCache(option: string, why: string, value: unknown): never {
  throw new TypeError(
    `Cannot ${action}: ${option} has no effect with cache false (${why}), received ${
      describe(value)
    }`,
  );
}
