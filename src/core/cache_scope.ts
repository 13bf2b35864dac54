import type { ScopeState } from "./_scope_state.ts";
import { describe } from "../_errors.ts";
import { EndedBecause, grantDisposeBecause } from "./_end_reasons.ts";
import { isPromiseLike } from "./_is_promise_like.ts";

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

  static {
    grantDisposeBecause((handle, why) => (handle as CacheScope).#release(why));
  }

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
    let { hits } = this.#state; // those of dropped tables: the live ones count their own
    // forEach skips the holes of the sparse table array.
    this.#state.tables.forEach((table) => {
      entries += table.size;
      hits += table.hits;
      functions.push({
        name: table.name,
        hits: table.hits,
        misses: table.misses,
        joins: table.joins,
        entries: table.size,
        ...(table.batches === undefined ? undefined : { batches: table.batches }),
      });
    });
    const { misses, joins } = this.#state;
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

  /**
   * Aborts when the scope ends, with an `Error` (named `AbortError`) whose message names the
   * scope and why it ended: "cache scope <id> ended: the client went away", "… the response
   * was sent", "… the handler threw", "… its function settled", "… its last handle was
   * disposed". Pass it to the work a request starts (`fetch(url, { signal: scope.signal })`)
   * so that the work stops when nobody is left to use its result. The same object as
   * {@linkcode cacheSignal} returns; an ended scope's signal is already aborted. It is made on
   * first read, so a scope that never asks for it pays nothing.
   *
   * @example Stopping work when the scope ends
   * ```ts
   * import { runInCacheScope } from "@reqcache/core";
   * import assert from "node:assert/strict";
   *
   * const signal = runInCacheScope({ url: "/" }, (scope) => {
   *   assert.equal(scope.signal.aborted, false);
   *   return scope.signal;
   * });
   * assert.equal(signal.aborted, true);
   * assert.match(signal.reason.message, /^cache scope .+ ended: its function settled$/);
   * ```
   */
  get signal(): AbortSignal {
    return this.#state.signal;
  }

  /**
   * Keeps the scope, its entries and its signal alive until `promise` settles, after the
   * response and after the client went away too: for work a handler leaves running, such as a
   * promise given to workerd's `ctx.waitUntil`. The scope then ends as usual once its handles
   * are disposed and every such promise has settled. A rejection is logged with the scope's id
   * (`console.error`), never left unhandled; handle it yourself to do more.
   *
   * @param promise The work to wait for: a promise or any thenable.
   * @throws {TypeError} If `promise` is not a thenable, or the scope has ended already (the
   * work would run without the cache it expects).
   *
   * @example Work after the response keeps the request's cache
   * ```ts
   * import { currentScope, perRequestCache, withCacheScope } from "@reqcache/core";
   * import assert from "node:assert/strict";
   *
   * let loads = 0;
   * const loadUser = perRequestCache(async (id: string) => ({ id, load: ++loads }));
   * let audit: Promise<void> | undefined;
   *
   * const handler = withCacheScope(async (_request: Request) => {
   *   const user = await loadUser("42");
   *   audit = (async () => {
   *     await new Promise((resolve) => setTimeout(resolve, 10)); // after the response
   *     assert.equal(await loadUser("42"), user); // still the request's cache
   *   })();
   *   currentScope()!.waitUntil(audit); // on workerd: ctx.waitUntil(audit) too
   *   return Response.json(user);
   * });
   *
   * assert.deepEqual(await (await handler(new Request("http://localhost/"))).json(), { id: "42", load: 1 });
   * await audit;
   * assert.equal(loads, 1);
   * ```
   */
  waitUntil(promise: PromiseLike<unknown>): void {
    const state = this.#state;
    if (!isPromiseLike(promise)) {
      throw new TypeError(
        `Cannot keep cache scope ${state.id} open: waitUntil takes a promise or thenable, received ${
          describe(promise)
        }`,
      );
    }
    if (state.ended) {
      throw new TypeError(
        `Cannot keep cache scope ${state.id} open: it has ended (${
          (state.endReason as Error).message
        }), and the work would run uncached; call waitUntil before the response is sent`,
      );
    }
    state.waitUntil(promise);
  }

  /** Ends this handle; the scope's entries drop when its last handle ends. Twice is a no-op. */
  [Symbol.dispose](): void {
    this.#release(EndedBecause.disposed);
  }

  #release(why: string): void {
    if (this.#released) return;
    this.#released = true;
    this.#state.release(why);
  }
}
