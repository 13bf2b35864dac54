/**
 * Issue 23's figure for the shared `perRequestCache` of `@reqcache/core/worker` in a worker: a
 * hit on an entry the worker already holds, against a hit of the core function in the same
 * worker and scope, for a one-number argument (the main thread's pair is in `_micro.ts`). Both
 * are timed inside the worker (`_shared_hit_tasks.ts`), in interleaved rounds.
 */
import { runInCacheScope } from "../mod.ts";
import { createWorkerPool } from "../worker.ts";
import type { tasks } from "./_shared_hit_tasks.ts";
import { type Check, medianRatio, ratioCheck, type Row, rowOf } from "./_section.ts";

const CORE = "in a worker: core perRequestCache hit, 1 argument (number)";
const SHARED = "in a worker: shared perRequestCache hit, entry held, 1 argument (number)";

/** Issue 23's target: a shared hit costs at most this many core hits. */
const maxSharedOverCore = 3;

const URL_OF_TASKS = new URL("./_shared_hit_tasks.ts", import.meta.url);

/** The rows and the ratio, over `rounds` rounds (`0`: only checks that both hit). */
export async function sharedHitsInWorker(
  rounds: number,
): Promise<{ rows: Row[]; checks: Check[] }> {
  await using pool = createWorkerPool<typeof tasks>(URL_OF_TASKS, { size: 1 });
  const core: number[] = [];
  const shared: number[] = [];
  await runInCacheScope({ url: "/bench" }, () => pool.run("hits", [false]));
  for (let round = 0; round < rounds; round++) {
    const [coreNs, sharedNs] = await runInCacheScope(
      { url: "/bench" },
      () => pool.run("hits", [true]),
    );
    core.push(coreNs);
    shared.push(sharedNs);
  }
  if (rounds === 0) return { rows: [], checks: [] };
  return {
    rows: [rowOf(CORE, core), rowOf(SHARED, shared)],
    checks: [ratioCheck(`${SHARED} / ${CORE}`, medianRatio(shared, core), maxSharedOverCore)],
  };
}
