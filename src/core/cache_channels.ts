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

/**
 * The message of the TracingChannel `reqcache:compute` (`diagnostics_channel.tracingChannel`),
 * published around the call of a cached function on a miss in a live scope; hits, joins and
 * calls outside any scope publish nothing on it. Its events, their order and the fields added as the call goes are those of Node's
 * `traceSync` for a function that returns anything but a native promise (`start`, `error` if it
 * throws, `end` with `result`), and of `tracePromise` for a native promise (`start`, `end`,
 * then on settling `error` for a rejection, `asyncStart` and `asyncEnd`, with `result` or
 * `error`). One message object travels through all the events of one call.
 *
 * The function runs inside the stores bound to `start` (`start.bindStore`), so a subscriber can
 * give its work an async context of its own. While someone subscribes, the caller of a miss
 * that returned a promise gets a promise that settles as the function's does (the one
 * `tracePromise` would return), not the function's own.
 *
 * @example Timing each miss
 * ```ts
 * import { perRequestCache, runInCacheScope, type CacheComputeMessage } from "@reqcache/core";
 * import diagnosticsChannel from "node:diagnostics_channel";
 * import assert from "node:assert/strict";
 *
 * const getUser = perRequestCache(async (id: string) => ({ id }), { name: "getUser" });
 * const events: string[] = [];
 * const compute = diagnosticsChannel.tracingChannel("reqcache:compute");
 * const listeners = {
 *   start: (m: unknown) => events.push(`start ${(m as CacheComputeMessage).name}`),
 *   end: () => events.push("end"),
 *   asyncStart: () => events.push("asyncStart"),
 *   asyncEnd: (m: unknown) => events.push(`asyncEnd ${JSON.stringify((m as CacheComputeMessage).result)}`),
 *   error: () => events.push("error"),
 * };
 * compute.subscribe(listeners);
 * await runInCacheScope({ url: "/" }, async () => {
 *   await getUser("42"); // a miss: traced
 *   await getUser("42"); // a hit: nothing on reqcache:compute
 * });
 * compute.unsubscribe(listeners);
 * assert.deepEqual(events, ["start getUser", "end", "asyncStart", 'asyncEnd {"id":"42"}']);
 * ```
 */
export interface CacheComputeMessage {
  /** The scope the result is cached in. */
  readonly scope: CacheScope;
  /** The cached function's `name` option, or its own name. */
  readonly name: string;
  /** What the function returned, or what its promise fulfilled with: set for `end` or `asyncStart`. */
  readonly result?: unknown;
  /** What the function threw, or why its promise rejected: set for `error`. */
  readonly error?: unknown;
}

/**
 * The message of the TracingChannel `reqcache:dispatch`, published around each call of a
 * `perRequestBatch` function's batch function, with the events and fields of
 * {@linkcode CacheComputeMessage} (`result` is the array of values, or the promise's). The
 * batch function runs inside the stores bound to `start`. A batch made outside any scope
 * publishes nothing.
 */
export interface CacheDispatchMessage {
  /** The scope the batch ran for (ended, if it ended before the batch was dispatched). */
  readonly scope: CacheScope;
  /** The batching function's name. */
  readonly name: string;
  /** The keys sent: the very array the batch function received. */
  readonly keys: readonly unknown[];
  /** What the batch function returned, or what its promise fulfilled with. */
  readonly result?: unknown;
  /** What the batch function threw, or why its promise rejected. */
  readonly error?: unknown;
}
