/**
 * The `/pool` route of the bare and fetch workers: workerd has no workers, only a
 * `node:worker_threads` whose `Worker` throws when constructed, so `createWorkerPool` and
 * `spawnWorker` must refuse when called, with the documented `TypeError`.
 */
import { runInCacheScope } from "../../../mod.ts";
import { createWorkerPool, spawnWorker } from "../../../worker.ts";

/** Never loaded: the pools must fail before a worker could fetch it. */
const tasksUrl = new URL("file:///tasks.js");

/** What a call threw, as JSON; something it returned is disposed and reported instead. */
async function refusal(create: () => AsyncDisposable): Promise<object> {
  try {
    await using _created = create();
    return { created: true };
  } catch (error) {
    const { name, message, cause } = error as Error;
    return { name, message, cause: String((cause as Error | undefined)?.message) };
  }
}

/** How both calls failed, for the request's `/pool` route. */
export async function poolRefusals(request: Request): Promise<Response> {
  return Response.json({
    createWorkerPool: await refusal(() => createWorkerPool(tasksUrl, { size: 2 })),
    spawnWorker: await runInCacheScope(request, () => refusal(() => spawnWorker(tasksUrl))),
  });
}
