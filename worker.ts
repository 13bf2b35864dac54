/**
 * Workers that run inside the calling request's scope, with one cache per request shared by
 * the main thread and every worker.
 *
 * The main thread starts a pool with {@linkcode createWorkerPool}; the worker's module serves
 * its tasks with {@linkcode serveTasks}. A task runs inside the caller's scope (same `id`, and
 * the context the pool chose to carry), and a function cached with this module's
 * {@linkcode perRequestCache} gives one answer per request wherever it runs.
 *
 * ```ts ignore
 * // tasks.ts, the worker
 * import { perRequestCache, serveTasks } from "@reqcache/core/worker";
 * const score = perRequestCache((n: number) => heavyScore(n), { name: "score" });
 * export const tasks = serveTasks({ score, scoreAll: (ns: number[]) => ns.map((n) => score(n)) });
 * ```
 *
 * @example The main thread
 * ```ts
 * import { createWorkerPool } from "@reqcache/core/worker";
 * import { runInCacheScope } from "@reqcache/core";
 * import assert from "node:assert/strict";
 *
 * // Usually a file: new URL("./tasks.ts", import.meta.url).
 * const tasks = `
 *   import { perRequestCache, serveTasks } from "${import.meta.resolve("@reqcache/core/worker")}";
 *   const square = perRequestCache((n) => n * n, { name: "square" });
 *   serveTasks({ square });
 * `;
 * await using pool = createWorkerPool(`data:text/javascript,${encodeURIComponent(tasks)}`, {
 *   size: 1,
 * });
 *
 * const squares = await runInCacheScope({ url: "/report" }, () => pool.map("square", [1, 2, 3, 2]));
 * assert.deepEqual(squares, [1, 4, 9, 4]);
 * ```
 *
 * @module
 */
export * from "./src/worker/serve_tasks.ts";
export * from "./src/worker/shared_per_request_cache.ts";
export * from "./src/worker/spawn_worker.ts";
export * from "./src/worker/worker_crash_error.ts";
export * from "./src/worker/worker_pool.ts";
export * from "./src/worker/worker_pool_api.ts";
