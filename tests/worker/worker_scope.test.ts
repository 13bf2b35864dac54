/**
 * Semantics 1 of the workers issue, on real workers: a task runs inside the calling request's
 * scope (same id, the carried context), a task with no scope runs with none, and a request's
 * entries persist in a worker between its tasks and drop when the request ends.
 *
 * One pool serves the file (Deno type-checks every worker it starts, for seconds); the last
 * test disposes of it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { currentScope, runInCacheScope } from "../../mod.ts";
import { createWorkerPool, spawnWorker, type WorkerPool } from "../../worker.ts";
import { TASKS_URL } from "./fixtures/computed.ts";
import type { tasks } from "./fixtures/tasks.ts";

const pool = createWorkerPool<typeof tasks>(TASKS_URL, {
  size: 2,
  context: (scope) => ({ requestId: (scope.request as { id?: string }).id, locale: "fr" }),
});

test("a task sees the calling request's scope id and the carried context", async () => {
  const seen = await Promise.all(
    ["a", "b", "c", "d"].map((id) =>
      runInCacheScope({ id }, async (scope) => ({
        id,
        scope: scope.id,
        inWorkers: await Promise.all([1, 2, 3].map(() => pool.run("whoAmI", []))),
      }))
    ),
  );
  for (const { id, scope, inWorkers } of seen) {
    for (const inWorker of inWorkers) {
      assert.deepEqual(inWorker, { id: scope, request: { requestId: id, locale: "fr" } });
    }
  }
});

test("a task submitted with no scope runs with none, even in a worker that ran scoped tasks", async () => {
  await runInCacheScope({ id: "r" }, () => pool.map("whoAmI", [[], []] as never[]));
  assert.equal(currentScope(), undefined);
  assert.deepEqual(await pool.map("whoAmI", [[], []] as never[]), [undefined, undefined]);
});

test("a request's entries persist in a worker between its tasks, and drop when it ends", async () => {
  const before = await pool.stats();
  await runInCacheScope({ id: "r" }, async () => {
    const [first, again] = await pool.run("perWorkerTwice", [3]);
    assert.equal(again.computation, first.computation);
    const entries = (await pool.stats()).workers.reduce((sum, w) => sum + w.entries, 0);
    assert.equal(entries, 1);
  });
  const after = await pool.stats();
  assert.deepEqual(after.workers.map((w) => [w.scopes, w.entries]), [[0, 0], [0, 0]]);
  assert.equal(after.scopes, 0);
  assert.equal(
    after.workers.reduce((sum, w) => sum + w.tasks, 0),
    before.workers.reduce((sum, w) => sum + w.tasks, 0) + 1,
  );
});

test("a task still running when its request ends sees its cacheSignal() abort, stops uncached, and leaves nothing behind", async () => {
  let late: Promise<unknown> | undefined;
  const id = await runInCacheScope({ id: "r" }, (scope) => {
    late = pool.run("untilScopeEnds").then(async (stopped) => [stopped, await pool.run("whoAmI")]);
    return scope.id;
  });
  assert.deepEqual(await late, [
    {
      stopped: `cache scope ${id} ended: its function settled`,
      name: "AbortError",
      scope: undefined,
    },
    undefined,
  ]);
  assert.deepEqual((await pool.stats()).workers.map((w) => w.scopes), [0, 0]);
});

test("a worker given no more tasks still ends its copy of a request's scope soon after the request ends", async () => {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  await runInCacheScope({ id: "idle" }, () => pool.run("flagWhenScopeEnds", [flag]));
  // Nothing more is sent to the workers: no task or stats message can carry the ending. The
  // flag is read from shared memory, so that reading it sends nothing either.
  for (let waited = 0; Atomics.load(flag, 0) === 0; waited += 5) {
    assert.ok(waited < 5_000, "the worker's copy of the scope has not ended after 5 s");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
});

test("the default context carries a Request's url and method, and nothing for other requests", async () => {
  await using plain = createWorkerPool<typeof tasks>(TASKS_URL, { size: 1 });
  const request = new Request("http://localhost/report?x=1", { method: "POST" });
  const seen = await runInCacheScope(request, () => plain.run("whoAmI", []));
  assert.deepEqual(seen?.request, { url: "http://localhost/report?x=1", method: "POST" });
  const other = await runInCacheScope({ job: "nightly" }, () => plain.run("whoAmI", []));
  assert.equal(other?.request, undefined);
});

test("spawnWorker binds one worker to the current request and ends with it", async () => {
  let worker: WorkerPool<typeof tasks> | undefined;
  let fromOutside: Promise<unknown> | undefined;
  await runInCacheScope({ id: "bound" }, async (scope) => {
    worker = spawnWorker<typeof tasks>(TASKS_URL, {
      context: (s) => ({ requestId: (s.request as { id: string }).id }),
    });
    // Submitted from a context without the scope, it still runs in the bound one.
    fromOutside = runInCacheScope(undefined, () => worker!.run("whoAmI", []));
    assert.deepEqual(await fromOutside, { id: scope.id, request: { requestId: "bound" } });
  });
  await assert.rejects(worker!.run("whoAmI", []), /the worker pool is disposed/);
  await worker![Symbol.asyncDispose]();
});

test("a disposed pool rejects new tasks", async () => {
  await pool[Symbol.asyncDispose]();
  await assert.rejects(pool.run("whoAmI", []), {
    name: "TypeError",
    message: 'Cannot run task "whoAmI": the worker pool is disposed',
  });
});
