/**
 * The jobs waiting for a worker, first in first out, and how many each scope has among them.
 * Taking the first job costs the same however long the queue is (no array shift, which moves
 * every job behind it): a busy server queues thousands. A scope's count lets its end skip the
 * search for its jobs when it has none queued, as a scope whose tasks have all been answered.
 */
import type { Job, PoolScope } from "./_pool_worker.ts";

/** How many taken slots may pile up at the front before they are dropped in one go. */
const COMPACT_AFTER = 1024;
/** What a scope with no job queued takes: nothing, and no array made for it. */
const NONE: readonly Job[] = [];

export class JobQueue {
  /** The jobs from `#head` on; the slots before it were taken and are emptied. */
  #jobs: (Job | undefined)[] = [];
  #head = 0;

  /** How many jobs wait. */
  get length(): number {
    return this.#jobs.length - this.#head;
  }

  push(job: Job): void {
    this.#jobs.push(job);
    if (job.scope !== undefined) job.scope.queued++;
  }

  /** The first job, which leaves the queue; `undefined` if none waits. */
  shift(): Job | undefined {
    if (this.#head === this.#jobs.length) return undefined;
    const job = this.#jobs[this.#head]!;
    this.#jobs[this.#head++] = undefined;
    if (this.#head === this.#jobs.length) this.#clear();
    else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#jobs.length) this.#compact();
    if (job.scope !== undefined) job.scope.queued--;
    return job;
  }

  /** Takes `job` out of the queue; whether it was there. */
  remove(job: Job): boolean {
    this.#compact();
    const at = this.#jobs.indexOf(job);
    if (at === -1) return false;
    this.#jobs.splice(at, 1);
    if (job.scope !== undefined) job.scope.queued--;
    return true;
  }

  /** Takes the jobs of `scope` out of the queue, in order; the rest keep theirs. */
  takeScope(scope: PoolScope): readonly Job[] {
    if (scope.queued === 0) return NONE;
    this.#compact();
    const taken: Job[] = [];
    const jobs = this.#jobs;
    let kept = 0;
    for (const job of jobs) {
      if (job!.scope === scope) taken.push(job!);
      else jobs[kept++] = job;
    }
    jobs.length = kept;
    scope.queued = 0;
    return taken;
  }

  /** Takes every job out of the queue, in order. */
  takeAll(): Job[] {
    this.#compact();
    const taken = this.#jobs as Job[];
    for (const job of taken) if (job.scope !== undefined) job.scope.queued--;
    this.#jobs = [];
    return taken;
  }

  #compact(): void {
    if (this.#head === 0) return;
    this.#jobs.splice(0, this.#head);
    this.#head = 0;
  }

  #clear(): void {
    this.#jobs.length = 0;
    this.#head = 0;
  }
}
