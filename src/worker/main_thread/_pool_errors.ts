/** Why a pool could not be made, or one of its tasks did not finish. */
import { notCloneableError } from "../../_errors.ts";
import { reviveError, type SerializedError } from "../_error_transfer.ts";
import { WorkerCrashError } from "../worker_crash_error.ts";

/** The runtime has no workers at all (workerd). */
export function noWorkersError(action: string): TypeError {
  return new TypeError(
    `Cannot ${action}: this runtime has no workers (no Worker global and no node:worker_threads); run the work in the request instead`,
  );
}

/**
 * The runtime has a `Worker` that refused to start (workerd's stub, or Node given a URL that is
 * not file: or data:); the runtime's error is the cause.
 */
export function workerStartError(action: string, url: URL, cause: unknown): TypeError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new TypeError(
    `Cannot ${action}: this runtime could not start a worker from ${url} (${reason}); if it has no workers (workerd), run the work in the request instead`,
    { cause },
  );
}

/**
 * The pool was disposed with the task queued (`running` false) or running, or before it was
 * submitted (`running` undefined).
 */
export function poolDisposedError(task: string, running: boolean | undefined): TypeError {
  if (running === undefined) {
    return new TypeError(`Cannot run task ${JSON.stringify(task)}: the worker pool is disposed`);
  }
  return new TypeError(
    running
      ? `Cannot finish task ${
        JSON.stringify(task)
      }: the worker pool was disposed while the task ran`
      : `Cannot run task ${
        JSON.stringify(task)
      }: the worker pool was disposed before the task started`,
  );
}

/** The worker died under the task: the pool replaces it, so the caller may retry. */
export function workerCrashedError(task: string, error: Error): WorkerCrashError {
  return new WorkerCrashError(
    task,
    `Cannot finish task ${JSON.stringify(task)}: its worker crashed (${error.message})`,
    { cause: error },
  );
}

/** No worker of the pool could start, so a queued task has nothing to run it. */
export function noWorkerStartedError(task: string, url: URL, error: Error): WorkerCrashError {
  return new WorkerCrashError(
    task,
    `Cannot run task ${JSON.stringify(task)}: no worker could start from ${url} (${error.message})`,
    { cause: error },
  );
}

/** The error of a task whose arguments could not be posted: it names the first bad one. */
export function taskNotCloneableError(
  task: string,
  args: readonly unknown[],
  cause: unknown,
): TypeError {
  const bad = args.findIndex((arg) => {
    try {
      structuredClone(arg);
      return false;
    } catch {
      return true;
    }
  });
  const what = bad === -1 ? "its arguments are" : `argument ${bad + 1} is`;
  return notCloneableError(`run task ${JSON.stringify(task)}`, what, cause);
}

/** Every worker is busy and `maxQueue` tasks wait already. */
export function queueFullError(task: string, maxQueue: number): RangeError {
  return new RangeError(
    `Cannot queue task ${
      JSON.stringify(task)
    }: ${maxQueue} tasks are waiting already (maxQueue); await some of them or raise maxQueue`,
  );
}

/** Why a worker is replaced: its task ran on past the grace period after its scope ended. */
export function taskOverdueError(task: string, graceMs: number): Error {
  return new Error(
    `task ${JSON.stringify(task)} still ran ${graceMs} ms after its cache scope ended`,
  );
}

/** The task threw in its worker: the same name, message and stack, and where it ran. */
export function taskFailedError(error: SerializedError, task: string): Error {
  return reviveError(error, `task ${JSON.stringify(task)} in a worker of the pool`);
}

/** What waited for a shared computation gets when the worker running it stopped. */
export function sharedWorkerStoppedError(reason: Error): Error {
  return new Error(
    `Cannot finish a shared computation: the worker running it stopped (${reason.message})`,
  );
}
