/**
 * What happens to a request's tasks when its scope ends before they are done. A queued task is
 * dropped: nobody is left to use its result. A running one is first asked to stop (its worker
 * was just told the scope ended, so `cacheSignal()` there aborts) and is given a grace period
 * to settle by itself, keeping its worker; only one still running after it is stopped the way a
 * per-call abort stops it, by replacing its worker, the one way to stop synchronous code. Either
 * way its promise rejects with the scope's reason.
 */
import type { Job, PoolScope, PoolWorker } from "./_pool_worker.ts";
import { taskOverdueError } from "./_pool_errors.ts";
import type { JobQueue } from "./_job_queue.ts";

/** Timers take at most 2^31 - 1 ms (a longer delay fires at once): a longer grace is no timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Cancels the jobs of `scope`: its queued jobs leave `queue` (the rest in order) and are
 * cancelled at once; each running one gets `graceMs`, after which, if it still runs on the same
 * worker, it is cancelled as `overdue` on that worker (to replace, for the `why` given). The
 * pool clears a job's timer when the job leaves it.
 */
export function cancelScopeJobs(
  scope: PoolScope,
  queue: JobQueue,
  workers: readonly (PoolWorker | undefined)[],
  graceMs: number,
  cancel: (job: Job, overdue?: PoolWorker, why?: Error) => void,
): void {
  for (const job of queue.takeScope(scope)) cancel(job);
  if (graceMs > MAX_TIMER_MS) return;
  for (const worker of workers) {
    const job = worker?.job;
    if (worker === undefined || job === undefined || job.scope !== scope) continue;
    job.grace ??= setTimeout(() => {
      if (job.worker === worker) cancel(job, worker, taskOverdueError(job.task, graceMs));
    }, graceMs);
  }
}
