import { storage } from "./_frame.ts";
import type { ScopeState } from "./_scope_state.ts";

/**
 * The scope cached functions use in the current context, unless it has ended: code that
 * outlives its request (a timer, a late promise) finds none. The hit paths read the same two
 * fields inline.
 */
export function liveScope(): ScopeState | undefined {
  const scope = storage.getStore()?.current;
  return scope === undefined || scope.ended ? undefined : scope;
}
