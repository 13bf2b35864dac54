import type { ScopeState } from "./_scope_state.ts";

/** Hits, misses, joins and live entries of one cached function inside one scope. */
export interface FunctionStats {
  /** The function's `name` option, or its own name. */
  readonly name: string;
  /** Calls answered by a settled entry of the scope's cache. */
  readonly hits: number;
  /** Calls that ran the function and stored its result. */
  readonly misses: number;
  /** Calls that received an entry whose promise was still pending (shared in flight). */
  readonly joins: number;
  /** Entries the function holds in the scope now. */
  readonly entries: number;
  /** Calls of the batch function: only in the row of a `perRequestBatch` function. */
  readonly batches?: number;
}

/** What a scope's cache did so far: totals, and one row per cached function it has seen. */
export interface CacheScopeStats {
  /** Calls answered by a settled entry of the cache. */
  readonly hits: number;
  /** Calls that ran the function and stored its result. */
  readonly misses: number;
  /**
   * Calls that received an entry whose promise was still pending: they neither ran the function
   * nor got a settled answer, so under concurrency `hits + misses + joins` is every cached call.
   */
  readonly joins: number;
  /** Entries the scope holds now, over all functions. */
  readonly entries: number;
  /** One row per cached function called in this scope, in the order the functions were made. */
  readonly functions: readonly FunctionStats[];
}

/**
 * One request's cache: what {@linkcode openCacheScope} returns and {@linkcode currentScope}
 * finds. Cached functions called while it is current store their results in it, and disposing
 * it drops them all at once.
 *
 * A handle is `Disposable`: `using scope = openCacheScope(request)` ends it when the block
 * ends. Opening a scope for a request whose scope is already current joins it and returns a
 * second handle to the same cache; the entries drop when the last handle is disposed.
 *
 * @example Reading a scope's stats
 * ```ts
 * import { openCacheScope, perRequestCache } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * const double = perRequestCache((n: number) => n * 2);
 * {
 *   using scope = openCacheScope({ url: "/report" });
 *   double(21);
 *   double(21);
 *   assert.equal(scope.stats.hits, 1);
 *   assert.equal(scope.stats.misses, 1);
 * }
 * ```
 */
export class CacheScope implements Disposable {
  #state: ScopeState;
  #released = false;

  /**
   * Made by {@linkcode openCacheScope} and {@linkcode runInCacheScope}, not by user code.
   *
   * @param state The scope's state, shared by every handle to it.
   */
  constructor(state: ScopeState) {
    this.#state = state;
  }

  /** Unique among all scopes of this process and of its workers. Joined handles share it. */
  get id(): string {
    return this.#state.id;
  }

  /** The request the scope was opened for, as it was passed, or `undefined`. */
  get request(): object | undefined {
    return this.#state.request;
  }

  /** Whether this handle was disposed, or the scope has ended through another handle. */
  get disposed(): boolean {
    return this.#released || this.#state.ended;
  }

  /** A snapshot of hits, misses, joins and entries, in total and per cached function. */
  get stats(): CacheScopeStats {
    const functions: FunctionStats[] = [];
    let entries = 0;
    // forEach skips the holes of the sparse table array.
    this.#state.tables.forEach((table) => {
      entries += table.entries.size;
      functions.push({
        name: table.name,
        hits: table.hits,
        misses: table.misses,
        joins: table.joins,
        entries: table.entries.size,
        ...(table.batches === undefined ? undefined : { batches: table.batches }),
      });
    });
    const { hits, misses, joins } = this.#state;
    return { hits, misses, joins, entries, functions };
  }

  /**
   * Calls `listener` once when the scope ends (its last handle is disposed), or at once if it
   * has ended. Listeners run in the order they were added; if any throws, the others still run
   * and the disposal that ended the scope throws an `AggregateError` of their errors.
   *
   * @param listener What to run when the scope ends.
   *
   * @example Logging a request's cache use when it ends
   * ```ts
   * import { runInCacheScope } from "@reqcache/core";
   * import assert from "node:assert/strict";
   *
   * const lines: string[] = [];
   * runInCacheScope({ url: "/" }, (scope) => {
   *   scope.onEnd(() => lines.push(`${scope.id}: ${scope.stats.hits} hits`));
   * });
   * assert.equal(lines.length, 1);
   * ```
   */
  onEnd(listener: () => void): void {
    if (typeof listener !== "function") {
      throw new TypeError(
        `Cannot listen for the end of cache scope ${this.id}: listener must be a function, received ${typeof listener}`,
      );
    }
    this.#state.onEnd(listener);
  }

  /** Ends this handle; the scope's entries drop when its last handle ends. Twice is a no-op. */
  [Symbol.dispose](): void {
    if (this.#released) return;
    this.#released = true;
    this.#state.release();
  }
}
