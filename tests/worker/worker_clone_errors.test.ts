/**
 * Values that cannot be cloned to or from a worker, on real workers: a function or a symbol as an
 * argument, a symbol or a function as a result, and a class instance with private fields, which
 * structured clone does not refuse but copies as a plain object. Each refusal is a TypeError that
 * names the task (and the argument), it happens inside a request without harming it, and nothing
 * of that request reaches the next one. (The shared cache's own clone errors are in
 * worker_shared_cache.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../../mod.ts";
import { createWorkerPool } from "../../worker.ts";
import type { tasks } from "./fixtures/fault_tasks.ts";
import { Token } from "./fixtures/token.ts";

const pool = createWorkerPool<typeof tasks>(
  new URL("./fixtures/fault_tasks.ts", import.meta.url),
  { size: 1 },
);

test("an argument that cannot be cloned is a TypeError naming the task and the argument", async () => {
  await runInCacheScope({ url: "/a" }, async () => {
    await assert.rejects(pool.run("echo", [() => 1]), {
      name: "TypeError",
      message: /^Cannot run task "echo": argument 1 is not structured-cloneable \(.+\)$/s,
    });
    await assert.rejects(pool.run("echo", [Symbol("no")]), {
      name: "TypeError",
      message: /^Cannot run task "echo": argument 1 is not structured-cloneable \(.+\)$/s,
    });
    // deno-lint-ignore no-explicit-any
    await assert.rejects(pool.run("remember" as any, ["ok", { callback() {} }] as any), {
      name: "TypeError",
      message: /^Cannot run task "remember": argument 2 is not structured-cloneable \(.+\)$/s,
    });
  });
});

test("when a request's first task cannot be sent, its next task still brings the request's scope into the worker", async () => {
  await runInCacheScope({ url: "/first-refused" }, async (scope) => {
    // The scope's opening travels with its first task to a worker; this one is never sent.
    await assert.rejects(pool.run("echo", [() => 1]), { name: "TypeError" });
    assert.deepEqual(await pool.run("whoAmI", []), {
      scope: scope.id,
      context: { url: "/first-refused" },
    });
  });
});

test("a result that cannot be cloned is a TypeError naming the task", async () => {
  for (const task of ["returnSymbol", "returnFunction"] as const) {
    await assert.rejects(pool.run(task, []), {
      name: "TypeError",
      message: new RegExp(`^Cannot return the result of task "${task}" from its worker: .+`, "s"),
    });
  }
});

test("a class instance with private fields crosses as a plain object, without its class or its private fields", async () => {
  const token = new Token();
  assert.equal(token.reveal(), "private");
  // Structured clone does not refuse it: the documented behaviour is a plain copy of its own
  // enumerable fields, here none. Pass plain data, or the fields the task needs.
  assert.deepEqual(await pool.run("inspect", [token]), {
    plain: true,
    keys: [],
    reveal: "undefined",
  });
  const returned = await pool.run("returnToken", []);
  assert.equal(Object.getPrototypeOf(returned), Object.prototype);
  assert.deepEqual(returned, {});
});

test("after refused values, the request keeps its own entries and the next request sees none of them", async () => {
  await runInCacheScope({ url: "/refused" }, async (scope) => {
    const first = await pool.run("remember", ["k"]);
    await assert.rejects(pool.run("echo", [() => 1]), { name: "TypeError" });
    await assert.rejects(pool.run("returnSymbol", []), { name: "TypeError" });
    // The same request's entry survived the refusals: a hit, the same run.
    assert.deepEqual(await pool.run("remember", ["k"]), first);
    assert.deepEqual(await pool.run("held", []), { scope: scope.id, entries: 1 });
  });
  await runInCacheScope({ url: "/next" }, async (scope) => {
    assert.deepEqual(await pool.run("held", []), { scope: scope.id, entries: 0 });
    const mine = await pool.run("remember", ["k"]);
    assert.deepEqual([mine.scope, mine.context], [scope.id, { url: "/next" }]);
  });
  const stats = await pool.stats();
  assert.equal(stats.scopes, 0);
  assert.deepEqual(stats.workers.map((w) => [w.scopes, w.entries]), [[0, 0]]);
});

test("the pool is disposed", async () => {
  await pool[Symbol.asyncDispose]();
});
