import type { CacheScope, CacheScopeStats } from "./cache_scope.ts";

/**
 * The message of `reqcache:scope:start`, published on `node:diagnostics_channel` when a scope
 * opens: by `openCacheScope`, `runInCacheScope`, `withCacheScope`, `withListenerCacheScope` or
 * the Hono middleware. An opening that joins the request's live scope publishes nothing.
 *
 * Messages are published only while the channel has subscribers, synchronously, in the async
 * context of the code that caused them: a subscriber that reads its own `AsyncLocalStorage`
 * (OpenTelemetry's active span, say) sees the caller's. A subscriber that throws is reported
 * by the runtime as an uncaught exception, so subscribers must catch their own errors.
 *
 * @example Counting the scopes a piece of code opens
 * ```ts
 * import { runInCacheScope, type CacheScopeStartMessage } from "@reqcache/core";
 * import diagnosticsChannel from "node:diagnostics_channel";
 * import assert from "node:assert/strict";
 *
 * const opened: string[] = [];
 * const onStart = (message: unknown) => {
 *   opened.push((message as CacheScopeStartMessage).scope.id);
 * };
 * diagnosticsChannel.subscribe("reqcache:scope:start", onStart);
 * const id = runInCacheScope({ url: "/" }, (scope) => scope.id);
 * diagnosticsChannel.unsubscribe("reqcache:scope:start", onStart);
 * assert.deepEqual(opened, [id]);
 * ```
 */
export interface CacheScopeStartMessage {
  /** The scope that opened (the handle `currentScope()` returns inside it). */
  readonly scope: CacheScope;
}

/**
 * The message of `reqcache:scope:end`, published when a scope's last handle is disposed,
 * after the scope has ended and before its `onEnd` listeners run.
 */
export interface CacheScopeEndMessage {
  /** The scope that ended; `scope.stats` reads empty by now, `stats` does not. */
  readonly scope: CacheScope;
  /** The scope's stats just before its entries were dropped. */
  readonly stats: CacheScopeStats;
  /** Why it ended, with a message that names the scope. */
  readonly reason: Error;
}

/**
 * The message of `reqcache:call`, published for every call of a cached function inside a
 * live scope; calls outside any scope, and calls that throw, publish nothing.
 *
 * - `"miss"`: the function ran and its result was stored. `result` is what it returned; for
 *   an async function, the promise whose settling ends the call.
 * - `"hit"`: the result came from the scope's cache.
 * - `"join"`: a hit on a promise that a miss published while someone listened and that has
 *   not settled: the call waits on work already in flight.
 *
 * @example Logging each cached function's outcome
 * ```ts
 * import { perRequestCache, runInCacheScope, type CacheCallMessage } from "@reqcache/core";
 * import diagnosticsChannel from "node:diagnostics_channel";
 * import assert from "node:assert/strict";
 *
 * const getUser = perRequestCache(async (id: string) => ({ id }), { name: "getUser" });
 * const outcomes: string[] = [];
 * const onCall = (message: unknown) => {
 *   const { name, outcome } = message as CacheCallMessage;
 *   outcomes.push(`${name} ${outcome}`);
 * };
 * diagnosticsChannel.subscribe("reqcache:call", onCall);
 * await runInCacheScope({ url: "/" }, async () => {
 *   const first = getUser("42");
 *   await getUser("42"); // still in flight: a join
 *   await first;
 *   await getUser("42"); // settled: a hit
 * });
 * diagnosticsChannel.unsubscribe("reqcache:call", onCall);
 * assert.deepEqual(outcomes, ["getUser miss", "getUser join", "getUser hit"]);
 * ```
 */
export interface CacheCallMessage {
  /** The scope the call was cached in. */
  readonly scope: CacheScope;
  /** The cached function's `name` option, or its own name. */
  readonly name: string;
  /** How the call was answered. */
  readonly outcome: "hit" | "miss" | "join";
  /** What the call returned. */
  readonly result: unknown;
}

/** The message of `reqcache:batch`, published for every batch a batching function runs. */
export interface CacheBatchMessage {
  /** The scope the batch ran in. */
  readonly scope: CacheScope;
  /** The batching function's name. */
  readonly name: string;
  /** How many keys the batch asked for at once. */
  readonly size: number;
}
