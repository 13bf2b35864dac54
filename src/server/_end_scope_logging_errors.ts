import type { CacheScope } from "../core/cache_scope.ts";

/**
 * Ends a request's scope where nobody can take an error from it: a server integration ending
 * the scope when a body finishes, a socket closes, or a handler already threw. An end listener
 * that throws there would otherwise truncate a response that was sent fine, mask the handler's
 * own error, or (from an EventEmitter's `close`) crash a Node process; so its error is logged,
 * with the scope's id, and the request goes on.
 */
export function endScopeLoggingErrors(handle: CacheScope): void {
  try {
    handle[Symbol.dispose]();
  } catch (error) {
    console.error(`@reqcache/core: an end listener of cache scope ${handle.id} threw`, error);
  }
}
