import { liveScope } from "./_frame.ts";

/**
 * The current scope's signal: it aborts when the request's scope ends, so work the request
 * started (an upstream `fetch`, a query, a worker task) can stop when nobody is left to use it.
 * It is `scope.signal` of {@linkcode currentScope}, the same object.
 *
 * The scope ends, and the signal aborts, when the response has been sent, the client went away,
 * the handler threw, `runInCacheScope`'s function settled, or its last handle was disposed (and
 * not before every `scope.waitUntil` promise has settled). Its `reason` is an `Error` named
 * `AbortError` whose message names the scope and why it ended, such as
 * "cache scope 1a2b3c4d-5 ended: the client went away". Inside a worker task, it is the worker's
 * copy of the calling request's scope, which aborts when the request's scope ends.
 *
 * On `Deno.serve`, the first read while a handler runs reads `request.signal`, to notice the
 * client leave; Deno then prints a one-time "legacy behavior" warning about that signal.
 *
 * @returns The signal, or `undefined` outside any scope and in code that outlived its scope.
 *
 * @example Passing the request's signal to an upstream call
 * ```ts
 * import { cacheSignal, perRequestCache, runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * const getUser = perRequestCache(async (id: string) => {
 *   const signal = cacheSignal(); // fetch(`https://api.example.com/users/${id}`, { signal })
 *   return { id, aborted: signal?.aborted };
 * });
 *
 * assert.equal(cacheSignal(), undefined);
 * const signal = await runInCacheScope({ url: "/users/42" }, async (scope) => {
 *   assert.deepEqual(await getUser("42"), { id: "42", aborted: false });
 *   assert.equal(cacheSignal(), scope.signal);
 *   return cacheSignal()!;
 * });
 * assert.equal(signal.aborted, true);
 * ```
 */
export function cacheSignal(): AbortSignal | undefined {
  return liveScope()?.signal;
}
