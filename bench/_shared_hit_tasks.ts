/**
 * The worker's side of the shared-hit benchmark (`_shared_hits.ts`): one task that times, in the
 * request's scope in this worker, a hit of the core `perRequestCache` and a hit of the shared
 * one whose entry this worker already holds, both for a one-number argument.
 */
import { do_not_optimize, measure } from "mitata";
import { currentScope, perRequestCache as corePerRequestCache } from "../mod.ts";
import { perRequestCache, serveTasks } from "../worker.ts";
import { mitataTiming } from "./_section.ts";

const coreById = corePerRequestCache((id: number) => ({ id }));
const sharedById = perRequestCache((id: number) => ({ id }), { name: "bench:sharedById" });

export const tasks = serveTasks({
  /** ns per hit, mitata's median: [core, shared]; `timed: false` only proves they hit. */
  async hits(timed: boolean): Promise<[number, number]> {
    for (let i = 0; i < 3; i++) do_not_optimize([coreById(1), sharedById(1)]);
    const rows = currentScope()!.stats.functions;
    for (const name of ["anonymous", "bench:sharedById"]) {
      const row = rows.find((row) => row.name === name);
      if (row === undefined || row.hits < 2) throw new Error(`${name} did not hit in the worker`);
    }
    if (!timed) return [0, 0];
    const core = await measure(() => do_not_optimize(coreById(1)), { ...mitataTiming });
    const shared = await measure(() => do_not_optimize(sharedById(1)), { ...mitataTiming });
    return [core.p50, shared.p50];
  },
});
