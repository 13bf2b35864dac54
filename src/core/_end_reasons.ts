/**
 * Why a scope ended: the one list of reasons, and the error a scope's signal aborts with. A
 * scope keeps only the short phrase (a constant string, so ending a scope allocates nothing);
 * the error is made from it the first time someone reads it.
 */

/** The phrases that finish "cache scope <id> ended: …". */
export const EndedBecause = {
  /** A server saw the client leave before the response was complete. */
  clientGone: "the client went away",
  /** The response body was sent in full (or the server said the response is done). */
  responseSent: "the response was sent",
  /**
   * The handler returned, and nothing more was waited for (`waitForBody: false`, no body, or a
   * fixed body passed through).
   */
  handlerReturned: "the handler returned",
  /** The handler threw, or its promise rejected. */
  handlerThrew: "the handler threw",
  /** Reading the response body failed. */
  bodyFailed: "the response body failed",
  /** `runInCacheScope`'s function returned, threw, or its promise settled. */
  settled: "its function settled",
  /** The last handle was disposed (`using`, `[Symbol.dispose]()`). */
  disposed: "its last handle was disposed",
  /** The scope outlived its handles for `waitUntil` work, and that work has now settled. */
  waitUntilSettled: "its waitUntil work settled",
} as const;

/** The phrases in a fixed order: a phrase's place is its number. */
const PHRASES: readonly string[] = Object.values(EndedBecause);

/**
 * The number of a phrase of {@linkcode EndedBecause}: what a message to a worker carries, as a
 * number clones for less than a string.
 */
export function endReasonCode(why: string): number {
  return PHRASES.indexOf(why);
}

/** The phrase of {@linkcode EndedBecause} that `code` numbers (see {@linkcode endReasonCode}). */
export function endReasonPhrase(code: number): string {
  return PHRASES[code];
}

/** The error a scope's signal aborts with: it names the scope and why it ended. */
export function endReasonError(id: string, why: string): Error {
  const error = new Error(`cache scope ${id} ended: ${why}`);
  // Code that already treats an aborted fetch as a cancellation (error.name === "AbortError")
  // treats this one the same way.
  error.name = "AbortError";
  return error;
}

/**
 * Reports an error from ending a scope where nobody can take it (a server's callback, a
 * settled `waitUntil` promise): an end listener that throws there must not crash the process or
 * mask another error, so it is logged with the scope's id.
 */
export function reportEndListenerError(id: string, error: unknown): void {
  console.error(`@reqcache/core: an end listener of cache scope ${id} threw`, error);
}

/** Every listener runs even if one throws; the errors are rethrown together afterwards. */
export function runEndListeners(id: string, listeners: (() => void)[]): void {
  const errors: unknown[] = [];
  for (const listener of listeners) {
    try {
      listener();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) {
    throw new AggregateError(
      errors,
      `Cannot end cache scope ${id} cleanly: ${errors.length} end listener(s) threw`,
    );
  }
}

/**
 * How {@linkcode disposeBecause} reaches a handle's private release: given once, by the handle
 * class itself (`CacheScope`'s static block), so the reason travels as an argument and the
 * handle's public API stays `[Symbol.dispose]()`.
 */
let disposeWithReason: (handle: Disposable, why: string) => void;

/** For `CacheScope` only, once: how to dispose one of its handles with a reason. */
export function grantDisposeBecause(dispose: (handle: Disposable, why: string) => void): void {
  disposeWithReason = dispose;
}

/**
 * Disposes `handle` as `handle[Symbol.dispose]()` does (once; a handle already disposed is
 * left alone), saying why: for the code that owns a scope's opening handle (a server
 * integration, `runInCacheScope`), which knows what ended the request. `why` is a phrase of
 * {@linkcode EndedBecause}.
 */
export function disposeBecause(handle: Disposable, why: string): void {
  disposeWithReason(handle, why);
}
