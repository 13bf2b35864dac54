/**
 * The two messages of a task's round trip, written and read here only: the task (main thread →
 * worker) and its result (worker → main thread). Both are flat arrays rather than objects: a
 * flat array of plain values is the cheapest message to clone on every runtime (Bun has a fast
 * path for it), and each nested array or object costs more. So a task's endings go inline and
 * its arguments last:
 *
 *     [id, task, scope, opening, context, endings, ...(scope, why) × endings, ...args]
 *
 * - `scope`: the caller's scope, by its number in the pool, or `undefined` for none. Messages
 *   name scopes by number, not by their string id: a string that arrives in a message is a new
 *   string, and a map hashes each new string it is given, which costs more than a number.
 * - `opening`, `context`: the scope's opening, carried by the first of its tasks that goes to
 *   a worker (the worker makes its copy of the scope, with the scope's string id and this
 *   context, before it runs the task), so a request with one task costs no message of its own to
 *   open its scope; `opening` is `undefined` on the scope's later tasks.
 * - `endings`: how many scopes ended since the last message to this worker, as pairs like
 *   {@linkcode Endings}; they end there once the task has started, so a request's end costs no
 *   message of its own when another task follows soon.
 *
 * A result is `[id, value]`; a task that failed is answered with an object message instead (see
 * `FromWorker`), so an array from a worker is always a result.
 */

/**
 * Scopes that ended on the main thread, as pairs in one flat array of numbers: a scope's number
 * in the pool, then the number of the phrase its reason ends with (`why`, see `endReasonCode`). A task carries them inline; an `end`
 * message carries this array when no task came in time.
 */
export type Endings = readonly number[];

/** A task, main thread → worker (see the module's comment for the layout). */
export type TaskMessage = readonly [
  id: number,
  task: string,
  scope: number | undefined,
  opening: string | undefined,
  context: object | undefined,
  endings: number,
  ...rest: unknown[],
];

/** A task's result, worker → main thread. */
export type DoneMessage = readonly [id: number, value: unknown];

/** A task as the worker reads it, endings apart. */
export interface Task {
  readonly id: number;
  readonly task: string;
  /** The caller's scope, by its number in the pool, or `undefined` for none. */
  readonly scope: number | undefined;
  /** The scope's string id when this task carries its opening, else `undefined`. */
  readonly opening: string | undefined;
  /** The scope's context when this task carries its opening. */
  readonly context: object | undefined;
  readonly args: unknown[];
}

/** Where a task's endings start, after its fixed fields. */
const HEAD = 6;

/** Main thread: the message of one task, with the endings not told yet (`ends`, as pairs). */
export function encodeTask(
  id: number,
  task: string,
  scope: number | undefined,
  opening: string | undefined,
  context: object | undefined,
  ends: Endings,
  args: readonly unknown[],
): TaskMessage {
  return [id, task, scope, opening, context, ends.length >> 1, ...ends, ...args];
}

/** Worker: whether a message from the pool is a task (every other message is an object). */
export function isTaskMessage(data: unknown): data is TaskMessage {
  return Array.isArray(data);
}

/** Worker: the task a message carries; its endings are read by {@linkcode endingsOfTask}. */
export function decodeTask(message: TaskMessage): Task {
  const argsAt = HEAD + 2 * message[5];
  return {
    id: message[0],
    task: message[1],
    scope: message[2],
    opening: message[3],
    context: message[4],
    args: argsAt === message.length ? [] : message.slice(argsAt),
  };
}

/** Worker: calls `end` for each (scope, why) pair that a task message carries. */
export function endingsOfTask(
  message: TaskMessage,
  end: (scope: number, why: number) => void,
): void {
  const stop = HEAD + 2 * message[5];
  for (let i = HEAD; i < stop; i += 2) end(message[i] as number, message[i + 1] as number);
}

/** Worker: calls `end` for each (scope, why) pair of an `end` message's list. */
export function eachEnding(ends: Endings, end: (scope: number, why: number) => void): void {
  for (let i = 0; i < ends.length; i += 2) end(ends[i], ends[i + 1]);
}

/** Worker: the message that answers task `id` with `value`. */
export function encodeDone(id: number, value: unknown): DoneMessage {
  return [id, value];
}

/** Main thread: whether a message from a worker is a task's result. */
export function isDoneMessage(data: unknown): data is DoneMessage {
  return Array.isArray(data);
}

/** Main thread: the id of the task a result answers. */
export function doneId(message: DoneMessage): number {
  return message[0];
}

/** Main thread: what the task returned (or its promise resolved to). */
export function doneValue(message: DoneMessage): unknown {
  return message[1];
}
