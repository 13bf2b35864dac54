/**
 * Semantics 4 of the workers issue, on real workers: every failure rejects with a clear error
 * naming the task, a crashed worker is replaced, abort never wedges the pool, and disposal
 * rejects what is queued.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createWorkerPool, WorkerCrashError } from "../../worker.ts";
import { TASKS_URL } from "./fixtures/computed.ts";
import type { tasks } from "./fixtures/tasks.ts";

const pool = createWorkerPool<typeof tasks>(TASKS_URL, { size: 1, maxQueue: 2 });

test("an unknown task rejects with a RangeError that lists the tasks served", async () => {
  // deno-lint-ignore no-explicit-any
  await assert.rejects(pool.run("nope" as any, []), {
    name: "RangeError",
    message: /^Cannot run task "nope": this worker has no such task; it serves "whoAmI", "echo"/,
  });
});

test("an argument that cannot be cloned rejects with a TypeError naming the argument", async () => {
  await assert.rejects(pool.run("echo", [Symbol("no")]), {
    name: "TypeError",
    message: /^Cannot run task "echo": argument 1 is not structured-cloneable/,
  });
});

test("a result that cannot be cloned rejects with a TypeError naming the task", async () => {
  await assert.rejects(pool.run("returnFunction", []), {
    name: "TypeError",
    message: /^Cannot return the result of task "returnFunction" from its worker: /,
  });
});

test("a thrown error keeps its name, message and stack, and the stack names the task", async () => {
  const error = await pool.run("throwCustom", ["user 42"]).catch((error) => error);
  assert.ok(error instanceof Error);
  assert.equal(error.name, "NotFound");
  assert.equal(error.message, "user 42");
  assert.match(error.stack ?? "", /tasks\.ts/);
  assert.match(error.stack ?? "", /at task "throwCustom" in a worker of the pool$/);
  await assert.rejects(pool.run("throwTypeError", ["bad"]), (thrown) => {
    assert.ok(thrown instanceof TypeError);
    return true;
  });
});

test("a worker that crashes rejects its task with WorkerCrashError and is replaced", async () => {
  await assert.rejects(pool.run("crash", []), (error) => {
    assert.ok(error instanceof WorkerCrashError);
    assert.equal(error.task, "crash");
    assert.match(error.message, /^Cannot finish task "crash": its worker crashed \(.*boom/s);
    return true;
  });
  assert.equal(await pool.run("echo", ["still serving"]), "still serving");
});

test("abort drops a queued task at once, and stops a running one without wedging the pool", async () => {
  const running = new AbortController();
  const queued = new AbortController();
  const spinning = pool.run("spinForever", [], { signal: running.signal });
  const waiting = pool.run("echo", ["never"], { signal: queued.signal });
  queued.abort(new Error("not needed"));
  await assert.rejects(waiting, { message: "not needed" });
  running.abort();
  await assert.rejects(spinning, { name: "AbortError" });
  assert.equal(await pool.run("echo", ["after abort"]), "after abort");
  await assert.rejects(pool.run("echo", [1], { signal: AbortSignal.abort() }), {
    name: "AbortError",
  });
});

test("a full queue rejects with a RangeError", async () => {
  const busy = pool.run("sleep", [50]);
  const queued = [pool.run("echo", [1]), pool.run("echo", [2])];
  await assert.rejects(pool.run("echo", [3]), {
    name: "RangeError",
    message:
      'Cannot queue task "echo": 2 tasks are waiting already (maxQueue); await some of them or raise maxQueue',
  });
  assert.deepEqual(await Promise.all([busy, ...queued]), [50, 1, 2]);
});

test("disposal rejects queued and running tasks and terminates the workers", async () => {
  const running = assert.rejects(pool.run("spinForever", []), {
    name: "TypeError",
    message: 'Cannot finish task "spinForever": the worker pool was disposed while the task ran',
  });
  const queued = assert.rejects(pool.run("echo", ["never"]), {
    name: "TypeError",
    message: 'Cannot run task "echo": the worker pool was disposed before the task started',
  });
  await pool[Symbol.asyncDispose]();
  await Promise.all([running, queued]);
  assert.deepEqual(await pool.stats(), { size: 1, queued: 0, running: 0, scopes: 0, workers: [] });
  await pool[Symbol.asyncDispose](); // twice is a no-op
});
