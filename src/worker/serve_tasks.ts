import { serializeError } from "./_error_transfer.ts";
import { Frame, storage } from "../core/_scope_state.ts";
import { describe, notCloneableError } from "../_errors.ts";
import { connect, workerLink } from "./in_worker/_worker_link.ts";
import { type FromWorker, TASK_HEAD, type TaskMessage, type ToWorker } from "./_protocol.ts";
import type { TaskMap } from "./worker_pool_api.ts";
import {
  countTask,
  endWorkerScopes,
  openWorkerScope,
  workerScope,
  workerStats,
} from "./in_worker/_worker_scopes.ts";
import { announceExit, type ParentChannel, parentChannel } from "./in_worker/_parent_channel.ts";

let serving = false;

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
  const channel = parentChannel();
  if (channel === undefined) {
    throw new TypeError(
      "Cannot serve tasks: this is not a worker thread; start this module with createWorkerPool(url) or spawnWorker(url)",
    );
  }
  if (serving) throw new TypeError("Cannot serve tasks: this worker serves tasks already");
  serving = true;
  served = tasks;
  parent = channel;
  channel.listen(receive);
  announceExit(post);
  post({ type: "ready" });
  return tasks;
}

/** The tasks this worker serves, and its channel to the pool: set once, by `serveTasks`. */
let served: TaskMap;
let parent: ParentChannel;

function post(message: FromWorker): void {
  parent.post(message);
}

function receive(data: unknown): void {
  if (Array.isArray(data)) return receiveTask(data as unknown as TaskMessage);
  const message = data as Exclude<ToWorker, TaskMessage>;
  switch (message.type) {
    case "init":
      return connect(parent, message.flag, message.port);
    case "end":
      return endWorkerScopes(message.ends, 0, message.ends.length);
    case "shared":
      return workerLink()?.received(message);
    case "stats":
      return post({ type: "stats", id: message.id, stats: workerStats() });
  }
}

/**
 * Opens the scope the task carries the opening of, runs the task, then ends the scopes it
 * carries the endings of: they are other requests' scopes, so ending them waits until the task
 * has started (and a task that returned a value has been answered), off its answer's path.
 */
function receiveTask(message: TaskMessage): void {
  const scope = message[2];
  const argsAt = TASK_HEAD + 2 * message[5];
  if (message[3] !== undefined) openWorkerScope(scope as number, message[3], message[4]);
  try {
    runTask(message[0], message[1], scope, argsAt === message.length ? [] : message.slice(argsAt));
  } finally {
    if (argsAt > TASK_HEAD) endWorkerScopes(message as readonly unknown[], TASK_HEAD, argsAt);
  }
}

function runTask(id: number, task: string, scopeRef: number | undefined, args: unknown[]): void {
  const fn = Object.hasOwn(served, task) ? served[task] as (...args: unknown[]) => unknown : null;
  if (fn === null) {
    const names = Object.keys(served).map((name) => JSON.stringify(name)).join(", ");
    const error = new RangeError(
      `Cannot run task ${JSON.stringify(task)}: this worker has no such task; it serves ${names}`,
    );
    return post({ type: "failed", id, error: serializeError(error) });
  }
  // A run frame of the task's own: the request's scope if it is still alive here, else none,
  // and never a scope left over from another task.
  const scope = scopeRef === undefined ? undefined : workerScope(scopeRef);
  let value: unknown;
  try {
    value = storage.run(new Frame(scope, true), fn, ...args);
  } catch (error) {
    countTask();
    return post({ type: "failed", id, error: serializeError(error) });
  }
  // A value is answered at once; only a promise (or another thenable) is waited for.
  if (typeof (value as PromiseLike<unknown> | null)?.then === "function") {
    return void answerLater(id, task, value as PromiseLike<unknown>);
  }
  countTask();
  answer(id, task, value);
}

async function answerLater(id: number, task: string, promise: PromiseLike<unknown>): Promise<void> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    return post({ type: "failed", id, error: serializeError(error) });
  } finally {
    countTask();
  }
  answer(id, task, value);
}

function answer(id: number, task: string, value: unknown): void {
  try {
    post([id, value]);
  } catch (cause) {
    const error = notCloneableError(
      `return the result of task ${JSON.stringify(task)} from its worker`,
      "it is",
      cause,
    );
    post({ type: "failed", id, error: serializeError(error) });
  }
}
