import { Pool } from "./main_thread/_pool.ts";
import { getValidOptions } from "./main_thread/_pool_options.ts";
import { checkOptionNames } from "../_errors.ts";
import type { SpawnWorkerOptions, TaskMap, UntypedTasks, WorkerPool } from "./worker_pool_api.ts";
import { liveScope } from "../core/_frame.ts";

/**
 * Starts one worker bound to the current request, the shape of a thread started with the
 * request as its initializer: every task runs in this request's scope, whoever submits it and
 * from whatever context, and the worker is terminated when the scope ends (or when disposed).
 *
 * Starting a worker costs tens of milliseconds, so this suits a request that does long work;
 * for many requests, share one {@linkcode createWorkerPool} pool instead.
 *
 * @typeParam T The worker's tasks (`typeof tasks` from its module).
 * @param url The worker's module, which calls {@linkcode serveTasks}.
 * @param options The queue bound and the context to carry.
 * @returns A pool of one worker.
 * @throws {TypeError} If no scope is current, the runtime has no workers, `url` is not a URL,
 * or an option is wrong.
 *
 * @example Outside a request it refuses
 * ```ts
 * import { spawnWorker } from "@reqcache/core/worker";
 * import assert from "node:assert/strict";
 *
 * // Inside a request: `await using worker = spawnWorker(new URL("./tasks.ts", import.meta.url))`.
 * assert.throws(() => spawnWorker(new URL("file:///tasks.ts")), TypeError);
 * ```
 */
export function spawnWorker<T extends TaskMap = UntypedTasks>(
  url: string | URL,
  options?: SpawnWorkerOptions,
): WorkerPool<T> {
  const action = "spawn a worker";
  const own = options === undefined ? {} : checkOptionNames(
    options,
    ["maxQueue", "context"],
    action,
    " (a spawned worker is one worker)",
  );
  const valid = getValidOptions({ ...own, size: 1 }, action);
  const state = liveScope();
  if (state === undefined) {
    throw new TypeError(
      "Cannot spawn a worker: no cache scope is current to bind it to; call it inside a request's scope, or use createWorkerPool",
    );
  }
  return new Pool<T>(url, valid, state);
}
