/**
 * What few scopes use, kept out of `ScopeState` and made on first need: a scope is allocated
 * per request, and its cost grows with its field count (on Bun each field adds to every
 * opening: see the "floor: …, and a scope's objects" rows of `bench/_micro.ts`).
 */
export class ScopeExtras {
  /** The scope's id: drawn on first read, or a worker's copy of a main-thread scope's. */
  id: string | undefined = undefined;
  /** Called once when the scope ends (worker pools drop what workers held for it). */
  endListeners: (() => void)[] | undefined = undefined;
  /** Stops watching the client leave: set once the signal was read inside a server handler. */
  unwatchClient: (() => void) | undefined = undefined;
  /** `waitUntil` promises not settled yet: each keeps the scope alive after its last handle. */
  waits = 0;
  /** The scope's end reason, made on first read once it has ended. */
  reason: Error | undefined = undefined;
  /** Made on the first read of the scope's signal: most scopes never need one. */
  controller: AbortController | undefined = undefined;
}

let scopeCount = 0;
/** Drawn by the first scope, not at load: workerd refuses random values in global scope. */
let idPrefix: string | undefined;

/** A new scope id, unique among all scopes of this process and of its workers. */
export function drawScopeId(): string {
  return `${idPrefix ??= crypto.randomUUID().slice(0, 8)}-${(++scopeCount).toString(36)}`;
}
