import { describe } from "../_errors.ts";
import type { TaskMap } from "./worker_pool_api.ts";
import { serve } from "./in_worker/_task_server.ts";

/**
 * Serves `tasks` to the {@linkcode createWorkerPool} pool (or {@linkcode spawnWorker}) that
 * started this worker: call it once, at the top level of the worker's module.
 *
 * Each task runs inside the worker's copy of the calling request's scope: `currentScope()` has
 * the caller's scope `id`, and its `request` is the context the pool carried (see the pool's
 * `context` option). A task submitted with no scope runs with none. Cached functions of the
 * core work per worker; the `perRequestCache` of `@reqcache/core/worker` shares entries with
 * the main thread and the other workers.
 *
 * A worker runs one task at a time. A task may return a promise; the pool gets what it
 * resolves to. A task that throws rejects the caller's promise with an error of the same name,
 * message and stack.
 *
 * @typeParam T The task functions.
 * @param tasks The tasks, by name.
 * @returns `tasks`, so the module can export it and the main thread can type its pool with
 * `createWorkerPool<typeof tasks>(url)` through a type-only import.
 * @throws {TypeError} If this is not a worker thread, if it is called twice, or if a task is
 * not a function.
 *
 * @example A worker module (outside a worker it throws, as here)
 * ```ts
 * import { perRequestCache, serveTasks } from "@reqcache/core/worker";
 * import assert from "node:assert/strict";
 *
 * const score = perRequestCache((n: number) => n * n, { name: "score" });
 * const tasks = { score, scoreAll: (ns: number[]) => ns.map((n) => score(n)) };
 *
 * // In tasks.ts, started by createWorkerPool: `export const tasks = serveTasks({ ... })`.
 * assert.throws(() => serveTasks(tasks), TypeError);
 * ```
 */
export function serveTasks<T extends TaskMap>(tasks: T): T {
  if (typeof tasks !== "object" || tasks === null) {
    throw new TypeError(
      `Cannot serve tasks: tasks must be an object of functions, received ${describe(tasks)}`,
    );
  }
  for (const [name, task] of Object.entries(tasks)) {
    if (typeof task !== "function") {
      throw new TypeError(
        `Cannot serve tasks: task ${JSON.stringify(name)} must be a function, received ${
          describe(task)
        }`,
      );
    }
  }
  serve(tasks);
  return tasks;
}
