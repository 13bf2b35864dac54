import { Frame, storage } from "./_frame.ts";
import { ScopeState } from "./_scope_state.ts";
import { requestIdentity } from "./_request_identity.ts";
import { warnOnce } from "./_warn_once.ts";
import type { CacheScope } from "./cache_scope.ts";

/**
 * Opens a request's cache for the current async context, until the returned handle is
 * disposed: `using scope = openCacheScope(request)`.
 *
 * - Inside `withCacheScope`, `runInCacheScope` or the Hono middleware (a *run context*), the
 *   scope fills that context's slot and works on every runtime, workerd included. Opening it for
 *   the request the context already serves joins that scope instead of starting a second cache.
 *   A scope for another request, or for none, is a fresh cache, and the outer one is current
 *   again once it ends.
 * - Anywhere else the scope is entered with `AsyncLocalStorage.enterWith`. If the context holds
 *   a different request's scope that is still active, that scope is never adopted: it is not
 *   current again after this one ends, and a one-time warning names the fix (on `Deno.serve`
 *   an `enterWith` store carries over to the next request's handler; `withCacheScope` stops
 *   that).
 *
 * @param request The incoming request (a `Request`, Hono's `c.req`, a `node:http` message, or
 * any object standing for it). Omit it for a scope of its own, such as a batch job's.
 * @returns A handle to the scope; dispose it to end the scope.
 * @throws {TypeError} If `request` is not an object, or if the runtime has no `enterWith`
 * (workerd) and no run context surrounds the call.
 *
 * @example A scope for one request
 * ```ts
 * import { currentScope, openCacheScope, perRequestCache } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * let queries = 0;
 * const getUser = perRequestCache(async (id: string) => ({ id, query: ++queries }));
 *
 * async function handle(request: Request): Promise<Response> {
 *   using scope = openCacheScope(request);
 *   assert.equal(currentScope(), scope);
 *   await getUser("42");
 *   await getUser("42");
 *   return Response.json(scope.stats);
 * }
 *
 * const stats = await (await handle(new Request("http://localhost/"))).json();
 * assert.equal(stats.hits, 1);
 * assert.equal(queries, 1);
 * ```
 */
export function openCacheScope(request?: object): CacheScope {
  const identity = requestIdentity(request, "open a cache scope");
  const frame = storage.getStore();
  const current = frame?.current;
  if (current?.isLiveFor(identity)) return current.join();
  const active = current !== undefined && !current.ended;
  if (frame !== undefined && frame.isRun) {
    return new ScopeState(request, identity, frame, current).handle;
  }

  let storeBefore = frame;
  if (active && identity !== undefined && current.identity !== undefined) {
    // Either a deliberate nested scope for another request, or another request's store that
    // the runtime carried over (Deno.serve and enterWith). The two cannot be told apart here,
    // so the safe reading wins: the other request's scope is not given back afterwards.
    storeBefore = undefined;
    warnOfForeignScope();
  }
  const entered = new Frame(undefined, false);
  try {
    storage.enterWith(entered);
  } catch (cause) {
    throw new TypeError(
      "Cannot open a cache scope: this runtime has no AsyncLocalStorage.enterWith (workerd), and no run context surrounds the call; wrap the handler with withCacheScope(handler), use the cacheScope() middleware, or call runInCacheScope(request, fn)",
      { cause },
    );
  }
  return new ScopeState(request, identity, entered, storeBefore).handle;
}

function warnOfForeignScope(): void {
  warnOnce(
    "foreign-scope",
    "@reqcache/core: openCacheScope(request) found another request's scope still active in this async context. " +
      "It was not adopted: the new scope is isolated, and the other one is not restored when it ends. " +
      "If this is a server handler, run each request in its own context: wrap the handler with withCacheScope(handler) " +
      "or use the cacheScope() middleware (Deno.serve carries an enterWith store over to the next request). " +
      "To nest a scope for another request on purpose, use runInCacheScope(request, fn). This warning is shown once.",
  );
}
