/**
 * A request's worker tasks when its scope ends before they are done, on real workers: a queued
 * task never runs and rejects with the scope's reason; a running one sees `cacheSignal()` abort
 * in its worker and, if it stops by itself, settles as it chooses and keeps its worker; a busy
 * loop has its worker replaced after the pool's `cancelGraceMs`; the pool keeps serving, and no
 * grace timer outlives its task.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../../mod.ts";
import { createWorkerPool } from "../../worker.ts";
import { TASKS_URL } from "./fixtures/computed.ts";
import type { tasks } from "./fixtures/tasks.ts";
import { countListenersAndTimers } from "../core/_live_handles.ts";

const pool = createWorkerPool<typeof tasks>(TASKS_URL, { size: 1, cancelGraceMs: 200 });
const REASON = /^cache scope [0-9a-f]{8}-[0-9a-z]+ ended: its function settled$/;

/** The tasks the pool's one worker has run: a replaced worker starts again from 0. */
async function tasksRun(): Promise<number> {
  const { workers } = await pool.stats();
  assert.equal(workers.length, 1);
  return workers[0].tasks;
}

test("pool.run(task) with no arguments runs the task with none", async () => {
  assert.equal(await pool.run("whoAmI"), undefined);
  // A task that takes arguments still needs them: `pool.run("echo")` does not type-check.
});

test("a queued task whose request ends never runs, and rejects with the scope's reason", async () => {
  const before = await tasksRun();
  const busy = pool.run("sleep", [100]); // no scope: holds the one worker
  let queued!: Promise<unknown>;
  const id = runInCacheScope({ url: "/queued" }, (scope) => {
    queued = pool.run("echo", ["never"]);
    return scope.id;
  });
  await assert.rejects(queued, (error: Error) => {
    assert.equal(error.name, "AbortError");
    assert.equal(error.message, `cache scope ${id} ended: its function settled`);
    return true;
  });
  assert.equal(await busy, 100);
  assert.equal(await tasksRun(), before + 1, "only the unscoped task ran");
});

test("a running task that stops when cacheSignal() aborts settles as it chooses, and its worker is kept", async () => {
  const before = await tasksRun();
  let running!: Promise<unknown>;
  const id = runInCacheScope({ url: "/cooperative" }, (scope) => {
    running = pool.run("untilScopeEnds");
    return scope.id;
  });
  assert.deepEqual(await running, {
    stopped: `cache scope ${id} ended: its function settled`,
    name: "AbortError",
    scope: undefined, // the worker's copy has ended too
  });
  let failing!: Promise<unknown>;
  runInCacheScope({ url: "/cooperative" }, () => {
    failing = pool.run("failWhenScopeEnds", []);
  });
  await assert.rejects(failing, { name: "AbortError", message: REASON });
  assert.equal(await tasksRun(), before + 2, "the same worker ran both");
  assert.equal((await pool.stats()).workers[0].scopes, 0);
});

test("a busy task whose request ends has its worker replaced after the grace period, and the pool keeps serving", async () => {
  await tasksRun();
  let spinning!: Promise<unknown>;
  const ended = runInCacheScope({ url: "/busy" }, () => {
    spinning = pool.run("spinFor", [1_500]); // would return 1500 if left to finish
    return Date.now();
  });
  await assert.rejects(spinning, { name: "AbortError", message: REASON });
  assert.ok(Date.now() - ended >= 190, "the worker had its grace period");
  assert.equal(await pool.run("echo", ["still serving"]), "still serving");
  assert.equal(await tasksRun(), 1, "a fresh worker ran the next task");
});

test("a per-call signal and the scope's signal both cancel a task", async () => {
  const controller = new AbortController();
  await runInCacheScope({ url: "/both" }, async () => {
    const running = pool.run("untilScopeEnds", [], { signal: controller.signal });
    controller.abort(new Error("the caller gave up"));
    await assert.rejects(running, /the caller gave up/);
  });
  assert.equal(await pool.run("echo", [1]), 1);
});

test("200 requests whose tasks stop in time leave no grace timer behind", async () => {
  const live = countListenersAndTimers();
  try {
    for (let i = 0; i < 200; i++) {
      let running!: Promise<unknown>;
      runInCacheScope({ url: `/${i}` }, () => {
        running = pool.run("untilScopeEnds");
      });
      await running;
    }
    assert.deepEqual(live.counts(), { listeners: 0, timers: 0 });
  } finally {
    live[Symbol.dispose]();
  }
});

test("the pool is disposed", async () => {
  await pool[Symbol.asyncDispose]();
});
