/**
 * A worker's side of its pool: it receives the pool's messages, runs each task in the worker's
 * copy of the calling request's scope, and answers. Started once, by `serveTasks`.
 */
import { serializeError } from "../_error_transfer.ts";
import { Frame, storage } from "../../core/_frame.ts";
import { endReasonPhrase } from "../../core/_end_reasons.ts";
import { notCloneableError } from "../../_errors.ts";
import { connect, workerLink } from "./_worker_link.ts";
import type { FromWorker, ToWorker } from "../_protocol.ts";
import {
  decodeTask,
  eachEnding,
  encodeDone,
  endingsOfTask,
  isTaskMessage,
  type TaskMessage,
} from "../_task_message.ts";
import type { TaskMap } from "../worker_pool_api.ts";
import {
  countTask,
  endWorkerScope,
  openWorkerScope,
  workerScope,
  workerStats,
} from "./_worker_scopes.ts";
import { announceExit, type ParentChannel, parentChannel } from "./_parent_channel.ts";

/** The tasks this worker serves, and its channel to the pool: set once, by `serve`. */
let served: TaskMap | undefined;
let parent: ParentChannel;

/**
 * Serves `tasks` (checked by the caller) to the pool that started this worker.
 *
 * @throws {TypeError} If this is not a worker thread, or if it serves tasks already.
 */
export function serve(tasks: TaskMap): void {
  const channel = parentChannel();
  if (channel === undefined) {
    throw new TypeError(
      "Cannot serve tasks: this is not a worker thread; start this module with createWorkerPool(url) or spawnWorker(url)",
    );
  }
  if (served !== undefined) {
    throw new TypeError("Cannot serve tasks: this worker serves tasks already");
  }
  served = tasks;
  parent = channel;
  channel.listen(receive);
  announceExit(post);
  post({ type: "ready" });
}

function post(message: FromWorker): void {
  parent.post(message);
}

function receive(data: unknown): void {
  if (isTaskMessage(data)) return receiveTask(data);
  const message = data as Exclude<ToWorker, TaskMessage>;
  switch (message.type) {
    case "init":
      return connect(parent, message.flag, message.port);
    case "end":
      return eachEnding(message.ends, endCarried);
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
  const task = decodeTask(message);
  if (task.opening !== undefined) openWorkerScope(task.scope!, task.opening, task.context);
  try {
    runTask(task.id, task.task, task.scope, task.args);
  } finally {
    endingsOfTask(message, endCarried);
  }
}

/** Ends the worker's copy of scope `ref`, for the reason numbered `why`. */
function endCarried(ref: number, why: number): void {
  endWorkerScope(ref, endReasonPhrase(why));
}

function runTask(id: number, task: string, scopeRef: number | undefined, args: unknown[]): void {
  const tasks = served!;
  const fn = Object.hasOwn(tasks, task) ? tasks[task] as (...args: unknown[]) => unknown : null;
  if (fn === null) {
    const names = Object.keys(tasks).map((name) => JSON.stringify(name)).join(", ");
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
    countTask(); // first: the request's counts reach the pool before the task's answer
    return post({ type: "failed", id, error: serializeError(error) });
  }
  countTask();
  answer(id, task, value);
}

function answer(id: number, task: string, value: unknown): void {
  try {
    post(encodeDone(id, value));
  } catch (cause) {
    const error = notCloneableError(
      `return the result of task ${JSON.stringify(task)} from its worker`,
      "it is",
      cause,
    );
    post({ type: "failed", id, error: serializeError(error) });
  }
}
