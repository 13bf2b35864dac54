/**
 * A worker killed mid-task, on real workers: by its own task (`process.exit`, at once or from a
 * timer, or `close()` from inside), or from outside (an aborted task, whose worker the pool
 * terminates). The task rejects with an error that names it, the pool replaces the worker and
 * keeps serving, whoever waited on a shared computation of the dead worker gets an error and
 * not a hang, and nothing the dead worker held for a request reaches the next one.
 * (An uncaught error thrown in a worker is in worker_failures.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../../mod.ts";
import { createWorkerPool, WorkerCrashError } from "../../worker.ts";
import type { tasks } from "./fixtures/fault_tasks.ts";

const FAULT_TASKS_URL = new URL("./fixtures/fault_tasks.ts", import.meta.url);

/**
 * How long an awaited event may take before the test calls it a hang: generous, as replacing a
 * worker starts a thread, which takes seconds on a loaded 2-core machine.
 */
const HANG_MS = 30_000;

/** Rejects with a clear error after `ms` instead of letting a hang stall the run. */
async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Still waiting after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const exits = [
  ["exitMidTask", 7, "process.exit(7) inside the task"],
  ["exitLater", 9, "process.exit(9) from a timer while the task's promise is pending"],
  ["closeSelf", 0, "close() from inside the worker"],
] as const;

for (const [task, code, how] of exits) {
  test(
    `a worker ended by ${how} rejects its task with WorkerCrashError, and the pool keeps serving`,
    async () => {
      await using pool = createWorkerPool<typeof tasks>(FAULT_TASKS_URL, { size: 1 });
      await runInCacheScope({ url: "/killed" }, async (scope) => {
        assert.equal((await pool.run("remember", ["kept"])).scope, scope.id);
        await assert.rejects(within(pool.run(task, ["lost"]), HANG_MS, task), (error) => {
          assert.ok(error instanceof WorkerCrashError, String(error));
          assert.equal(error.task, task);
          assert.equal(
            error.message,
            `Cannot finish task "${task}": its worker crashed (the worker exited with code ${code})`,
          );
          return true;
        });
        // The replacement worker serves the same request, with a fresh copy of its scope: what
        // the dead worker remembered for it is gone, not carried over or shared.
        const again = await within(pool.run("remember", ["kept"]), HANG_MS, "the next task");
        assert.deepEqual([again.scope, again.run], [scope.id, 1]);
      });
      await runInCacheScope({ url: "/next" }, async (scope) => {
        assert.deepEqual(await pool.run("held", []), { scope: scope.id, entries: 0 });
        const mine = await pool.run("remember", ["kept"]);
        assert.deepEqual([mine.scope, mine.context], [scope.id, { url: "/next" }]);
      });
      const stats = await within(pool.stats(), HANG_MS, "the pool's stats");
      assert.equal(stats.scopes, 0);
      assert.deepEqual(stats.workers.map((w) => [w.scopes, w.entries]), [[0, 0]]);
    },
  );
}

test("a worker terminated from outside (its task aborted) is replaced; its scope copy does not reach the next request", async () => {
  await using pool = createWorkerPool<typeof tasks>(FAULT_TASKS_URL, { size: 1 });
  await runInCacheScope({ url: "/aborted" }, async (scope) => {
    await pool.run("remember", ["secret"]);
    const controller = new AbortController();
    const hanging = pool.run("hang", [], { signal: controller.signal });
    controller.abort(new Error("the client went away"));
    await assert.rejects(hanging, { message: "the client went away" });
    assert.deepEqual(await pool.run("held", []), { scope: scope.id, entries: 0 });
  });
  await runInCacheScope({ url: "/next" }, async (scope) => {
    const value = await pool.run("remember", ["secret"]);
    assert.deepEqual([value.scope, value.context, value.run], [scope.id, { url: "/next" }, 1]);
  });
  const stats = await pool.stats();
  assert.equal(stats.scopes, 0);
  assert.deepEqual(stats.workers.map((w) => [w.scopes, w.entries]), [[0, 0]]);
});

test("a worker stopped while it computes a shared entry: the main thread's caller gets an error, and the next call recomputes", async () => {
  await using pool = createWorkerPool<typeof tasks>(FAULT_TASKS_URL, { size: 1 });
  await pool.stats(); // the worker has started
  const { perRequestCache } = await import("../../worker.ts");
  // The main thread's side of the shared function the worker computes (same name, same code).
  const sharedSlow = perRequestCache(async (key: string) => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { key, scope: (await import("../../mod.ts")).currentScope()?.id };
  }, { name: "sharedSlow" });
  await runInCacheScope({ url: "/shared" }, async (scope) => {
    const controller = new AbortController();
    const task = pool.run("sharedThenHang", ["x"], { signal: controller.signal });
    // The worker answers stats in order, after the task's synchronous start, where it took the
    // entry: from then on the main thread's call waits for the worker's computation.
    await pool.stats();
    const waiting = sharedSlow("x");
    controller.abort(new Error("stop"));
    await assert.rejects(task, { message: "stop" });
    await assert.rejects(within(Promise.resolve(waiting), HANG_MS, "the shared entry"), {
      message:
        /^Cannot finish a shared computation: the worker running it stopped \(task "sharedThenHang" was aborted\)/,
    });
    assert.deepEqual(await sharedSlow("x"), { key: "x", scope: scope.id });
  });
  assert.equal((await pool.stats()).scopes, 0);
});
