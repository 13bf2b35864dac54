import { endScopeLoggingErrors } from "./_end_scope_logging_errors.ts";
import { EndedBecause } from "../core/_end_reasons.ts";
import { type Frame, storage } from "../core/_frame.ts";
import type { CacheScope } from "../core/cache_scope.ts";
import { bodyContext } from "./_response_scope.ts";

/** What a generator (sync or async) or any other iterator offers to whoever reads it. */
export interface AnyIterator {
  next(value?: unknown): unknown;
  return?(value?: unknown): unknown;
  throw?(error?: unknown): unknown;
}

/** Whether `value` can be read as an iterator: what Elysia streams as a body. */
export function isIterator(value: unknown): value is AnyIterator {
  return typeof value === "object" && value !== null &&
    typeof (value as Partial<AnyIterator>).next === "function";
}

/**
 * A generator handler's iterator as Elysia's stream reads it: each step runs in the request's
 * context (whichever context the server reads the body from), the last one ends the scope, and
 * so does `return()`, which Elysia calls when the client went away or the body was cancelled.
 */
export class TrackedIterator {
  readonly #iterator: AnyIterator;
  readonly #handle: CacheScope;
  readonly #context: ReturnType<typeof bodyContext>;

  constructor(iterator: AnyIterator, handle: CacheScope, frame: Frame) {
    this.#iterator = iterator;
    this.#handle = handle;
    this.#context = storage.run(frame, bodyContext);
  }

  next(value?: unknown): Promise<IteratorResult<unknown>> {
    const iterator = this.#iterator;
    let step: unknown;
    try {
      step = this.#context.runInAsyncScope(iterator.next, iterator, value);
    } catch (error) {
      endScopeLoggingErrors(this.#handle, EndedBecause.bodyFailed);
      return Promise.reject(error);
    }
    return Promise.resolve(step as IteratorResult<unknown>).then((result) => {
      if (result.done) endScopeLoggingErrors(this.#handle, EndedBecause.responseSent);
      return result;
    }, (error) => {
      endScopeLoggingErrors(this.#handle, EndedBecause.bodyFailed);
      throw error;
    });
  }

  return(value?: unknown): Promise<IteratorResult<unknown>> {
    const iterator = this.#iterator;
    // The generator is told to stop first (its `finally` runs in the request's context), then
    // the scope ends even if that throws.
    try {
      const stopped = iterator.return === undefined
        ? { done: true, value }
        : this.#context.runInAsyncScope(iterator.return, iterator, value);
      return Promise.resolve(stopped as IteratorResult<unknown>);
    } catch (error) {
      return Promise.reject(error);
    } finally {
      endScopeLoggingErrors(this.#handle, EndedBecause.clientGone);
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
