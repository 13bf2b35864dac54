/**
 * The error a task rejects with when its worker dies under it (an uncaught error or an exit in
 * the worker), or when a worker cannot start. The pool replaces a crashed worker and keeps
 * serving, so a caller may catch this and retry.
 *
 * @example Telling a crash from a task's own error
 * ```ts
 * import { WorkerCrashError } from "@reqcache/core/worker";
 * import assert from "node:assert/strict";
 *
 * const error = new WorkerCrashError("score", "Cannot finish task \"score\": its worker crashed");
 * assert.ok(error instanceof WorkerCrashError);
 * assert.equal(error.name, "WorkerCrashError");
 * assert.equal(error.task, "score");
 * ```
 */
export class WorkerCrashError extends Error {
  /** The task that was running or waiting. */
  readonly task: string;

  /**
   * Made by the pool; exported so that callers can test for it with `instanceof`.
   *
   * @param task The task that was running or waiting.
   * @param message What happened.
   * @param options The worker's own error, as `cause`, when there is one.
   */
  constructor(task: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WorkerCrashError";
    this.task = task;
  }
}
