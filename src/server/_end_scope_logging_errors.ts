import { disposeBecause, EndedBecause, reportEndListenerError } from "../core/_end_reasons.ts";
import type { ScopeState } from "../core/_scope_state.ts";
import type { CacheScope } from "../core/cache_scope.ts";

/**
 * Ends a request's scope where nobody can take an error from it: a server integration ending
 * the scope when a body finishes, a socket closes, or a handler already threw. An end listener
 * that throws there would otherwise truncate a response that was sent fine, mask the handler's
 * own error, or (from an EventEmitter's `close`) crash a Node process; so its error is logged,
 * with the scope's id, and the request goes on. `why` is a phrase of `EndedBecause`.
 */
export function endScopeLoggingErrors(handle: CacheScope, why: string): void {
  try {
    disposeBecause(handle, why);
  } catch (error) {
    reportEndListenerError(handle.id, error);
  }
}

/**
 * The client went away: the request is over, so the scope that `handle` opened ends whatever
 * handles the handler's code still holds (only `waitUntil` work keeps it). A handle that joined
 * an outer scope gives up only its own reference.
 */
export function clientGoneLoggingErrors(state: ScopeState, handle: CacheScope): void {
  endScopeLoggingErrors(handle, EndedBecause.clientGone);
  if (state.handle !== handle) return;
  try {
    state.abandon(EndedBecause.clientGone);
  } catch (error) {
    reportEndListenerError(state.id, error);
  }
}

/**
 * The handler threw or rejected: the scope ends now, and the error, returned, goes on to the
 * server. `watched` is the scope this request opened, if it did (not an outer one it joined):
 * it stops watching the client.
 */
export function handlerThrew(
  watched: ScopeState | undefined,
  handle: CacheScope,
  error: unknown,
): unknown {
  watched?.stopWatchingClient();
  endScopeLoggingErrors(handle, EndedBecause.handlerThrew);
  return error;
}
