/**
 * Concurrent requests for the scope property test (`properties_scopes.test.ts`), driven one step
 * at a time: each lane is a loop in its own async context that runs the jobs the driver sends it.
 */
import { openCacheScope, runInCacheScope } from "../../mod.ts";

/** A job a lane runs in its own async context, answering through `done`. */
type Job = () => void;

/** One unit of work's queue: the driver puts jobs, the lane's loop takes them after an await. */
class Mailbox {
  #queue: (Job | null)[] = [];
  #waiting: ((job: Job | null) => void) | undefined;

  put(job: Job | null): void {
    if (this.#waiting === undefined) this.#queue.push(job);
    else {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting(job);
    }
  }

  take(): Promise<Job | null> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift()!);
    return new Promise((resolve) => this.#waiting = resolve);
  }

  /** Runs `thunk` on the lane and gives back its result. */
  ask<T>(thunk: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.put(() => {
        try {
          resolve(thunk());
        } catch (error) {
          reject(error);
        }
      });
    });
  }
}

async function serve(mailbox: Mailbox): Promise<void> {
  for (let job = await mailbox.take(); job !== null; job = await mailbox.take()) job();
}

/**
 * A request in flight: a loop that runs the driver's jobs in its own async context. Run lanes
 * live in `runInCacheScope`; entered lanes open their scope with a bare `openCacheScope` (the
 * `enterWith` path), so both kinds of frame are exercised. Each lane also starts a "late" loop
 * in its context, which the driver uses after the lane has ended, as a timer or a late promise
 * would be.
 */
export interface RealLane {
  readonly request: object;
  readonly other: object;
  readonly entered: boolean;
  readonly jobs: Mailbox;
  readonly late: Mailbox;
  /** Handles opened by "open", innermost last. */
  readonly handles: Disposable[];
  readonly finished: Promise<void>;
}

export function startLane(entered: boolean): RealLane {
  const jobs = new Mailbox();
  const late = new Mailbox();
  const handles: Disposable[] = [];
  const request = { lane: entered ? "entered" : "run" };
  const work = async () => {
    void serve(late);
    await serve(jobs);
    while (handles.length > 0) handles.pop()![Symbol.dispose]();
  };
  const finished = entered
    ? (async () => {
      await null; // leave the driver's synchronous execution before entering a store
      using _scope = openCacheScope(request);
      await work();
    })()
    : runInCacheScope(request, work);
  return { request, other: { lane: "other" }, entered, jobs, late, handles, finished };
}

export async function endLane(lane: RealLane): Promise<void> {
  lane.jobs.put(null);
  await lane.finished;
}
