import { Pool } from "./main_thread/_pool.ts";
import { getValidOptions } from "./main_thread/_pool_options.ts";
import type { TaskMap, UntypedTasks, WorkerPool, WorkerPoolOptions } from "./worker_pool_api.ts";

/**
 * Starts a pool of workers running the module at `url`, which serves its tasks with
 * {@linkcode serveTasks}. Make it once, for many requests.
 *
 * A task carries the caller's current scope: the first time a worker sees a scope it receives
 * the scope's `id` and the context the `context` option picked, and every task of that request
 * in that worker runs inside the worker's copy of the scope, so `currentScope()` there is the
 * request's scope. When the request's scope ends, every worker drops what it held for it.
 * Cached functions made with the `perRequestCache` of `@reqcache/core/worker` share their
 * entries between the main thread and the workers, one answer per request.
 *
 * Deno and Bun run Web Workers (`new Worker(url, { type: "module" })`); Node, which has no
 * `Worker` global, runs `node:worker_threads` behind the same API. A worker that crashes
 * rejects its task with a {@linkcode WorkerCrashError} and is replaced. Each worker runs one
 * task at a time.
 *
 * @typeParam T The worker's tasks: `createWorkerPool<typeof tasks>(url)` with
 * `import type { tasks } from "./tasks.ts"` types `run` and `map` by task name.
 * @param url The worker's module: a `URL` or an absolute URL string, usually
 * `new URL("./tasks.ts", import.meta.url)`.
 * @param options How many workers, how long a queue, and what context to carry.
 * @returns The pool; dispose it (`await using`) to terminate its workers.
 * @throws {TypeError} If the runtime has no workers at all (workerd), `url` is not a URL, or
 * an option has the wrong type or name.
 * @throws {RangeError} If `size` or `maxQueue` is out of range.
 *
 * @example A task in the request's scope
 * ```ts
 * import { createWorkerPool } from "@reqcache/core/worker";
 * import { runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * // The worker's module; usually a file: new URL("./tasks.ts", import.meta.url).
 * const tasks = `
 *   import { serveTasks } from "${import.meta.resolve("@reqcache/core/worker")}";
 *   import { currentScope } from "${import.meta.resolve("@reqcache/core")}";
 *   serveTasks({ whoAmI: () => currentScope()?.request });
 * `;
 * await using pool = createWorkerPool(`data:text/javascript,${encodeURIComponent(tasks)}`, {
 *   size: 1,
 *   context: (scope) => ({ requestId: scope.id }),
 * });
 *
 * await runInCacheScope({ url: "/report" }, async (scope) => {
 *   assert.deepEqual(await pool.run("whoAmI", []), { requestId: scope.id });
 * });
 * assert.equal(await pool.run("whoAmI", []), undefined); // no scope, none in the worker
 * ```
 */
export function createWorkerPool<T extends TaskMap = UntypedTasks>(
  url: string | URL,
  options?: WorkerPoolOptions,
): WorkerPool<T> {
  return new Pool<T>(url, getValidOptions(options, "create a worker pool"), undefined);
}
