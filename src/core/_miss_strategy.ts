/**
 * Where a cached function's miss is answered: the one variation between the core
 * `perRequestCache` and the shared one of `@reqcache/core/worker`, as std's `memoize` takes a
 * `cache` and DataLoader a `cacheMap`. Without a strategy a miss is computed here, as the core
 * does; a strategy may ask another thread first, and then computes here (reporting the result),
 * or stores what the other thread answered. Everything else (options, keys, tags, the rejection
 * policy, joins, stats, channels and the hit path) is the one cached function's
 * (`_cache_function.ts`), whichever strategy it has.
 *
 * Not public API: a strategy is given by the worker entry only.
 */
import type { EntryTable } from "./_entry_table.ts";
import type { ScopeState } from "./_scope_state.ts";

/** A miss, as a strategy gets it: what it may do with the call that missed. */
export interface Miss {
  readonly scope: ScopeState;
  readonly args: unknown[];
  /** The tags of the call, checked, or `undefined` for none. */
  readonly tags: readonly string[] | undefined;
  /**
   * Runs the function here and stores its result as a core miss does; `share`, if given, is
   * told how the call ended.
   */
  compute(share?: Share): unknown;
  /** Stores a result that another thread computed, counted as a hit or as a join. */
  store(value: unknown, outcome: "hit" | "join"): unknown;
  /** Whether the function's `cacheRejections` keeps a rejection with `error`. */
  keeps(error: unknown): boolean;
}

/** Told how a computation run for a {@linkcode Miss} ended, to report it elsewhere. */
export interface Share {
  /** The function returned `value`; throwing here fails the call, and nothing is stored. */
  returned(value: unknown): void;
  /** The function threw `error` (or {@linkcode returned} did). */
  threw(error: unknown): void;
}

/** How a cached function's keys are made and its misses answered, beyond one thread. */
export interface MissStrategy {
  /**
   * The hit path's key of a call, in place of the `key` option: a call whose key is a primitive
   * is keyed by it; any other is looked up in the current scope's table (a key not stored
   * there yet is `NOT_STORED`). The receiver is never part of it.
   */
  readonly hitKey: (...args: unknown[]) => unknown;
  /** The key of a call in `table`: interned if `intern`, else found (or `NOT_STORED`). */
  key(table: EntryTable, args: unknown[], intern: boolean): unknown;
  /** Answers a miss. */
  miss(miss: Miss): unknown;
  /** This thread dropped the entry of `args` in `scope` (`undefined`: every entry). */
  dropped(scope: ScopeState, args: unknown[] | undefined): void;
  /** This thread is priming `args` with `value` in `scope`; throwing stores nothing. */
  primed(
    scope: ScopeState,
    args: unknown[],
    value: unknown,
    tags: readonly string[] | undefined,
  ): void;
}

let tagsDropped: ((scope: ScopeState, tags: readonly string[]) => void) | undefined;

/**
 * Sets what `invalidateTags` tells beyond this thread (the worker entry sets it when its first
 * shared function is made); a thread with no shared function tells no one.
 */
export function onTagsDropped(
  listener: (scope: ScopeState, tags: readonly string[]) => void,
): void {
  tagsDropped = listener;
}

/** Called by `invalidateTags` once it has dropped the tags in this thread's scope. */
export function tellTagsDropped(scope: ScopeState, tags: readonly string[]): void {
  tagsDropped?.(scope, tags);
}
