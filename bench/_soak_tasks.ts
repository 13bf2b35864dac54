/**
 * The worker module of `bench/soak_servers.ts`: one task per request that reads a shared cached
 * function (entries kept by the main thread, one per request) and a per-worker one (entries kept
 * in the worker's copy of the request's scope), and says which scope it ran in.
 */
import { currentScope, perRequestCache as perWorkerCache } from "../mod.ts";
import { perRequestCache, serveTasks } from "../worker.ts";

/** Shared across threads: each value carries the scope it was computed in. */
const price = perRequestCache((sku: number) => ({ sku, scope: currentScope()?.id }), {
  name: "price",
});

/** Per worker: each value carries the scope it was computed in. */
const discount = perWorkerCache((sku: number) => ({ sku, scope: currentScope()?.id }));

export const tasks = serveTasks({
  /** Reads both functions twice (the second read is a hit) and reports every scope it saw. */
  quote: (sku: number) => {
    const seen = [price(sku), discount(sku), price(sku), discount(sku)].map((v) => v.scope);
    return { scope: currentScope()?.id, seen };
  },
});
