/**
 * Semantics 2 of the workers issue, on real workers: a named cached function gives one answer
 * per request wherever it runs. Every real computation stamps its result with a fresh id
 * (`tests/worker/fixtures/computed.ts`), so "reused" means "same id" and "ran once" means "one id".
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../../mod.ts";
import { createWorkerPool, perRequestCache } from "../../worker.ts";
import { computed, heavy, TASKS_URL } from "./fixtures/computed.ts";
import type { tasks } from "./fixtures/tasks.ts";

// The main thread's side of the fixture's shared functions: same names, same work.
const score = perRequestCache((n: number) => computed(n), { name: "score" });
const asyncScore = perRequestCache(async (n: number) => {
  await new Promise((resolve) => setTimeout(resolve, 30));
  return computed(n);
}, { name: "asyncScore" });
const objectKeyed = perRequestCache(
  (query: { n: number; tags: string[] }) => computed(query.n),
  { name: "objectKeyed" },
);

const pool = createWorkerPool<typeof tasks>(TASKS_URL, { size: 3 });

test("an entry computed in the main thread is reused by the workers", async () => {
  await runInCacheScope({ id: "r" }, async () => {
    const mine = score(7);
    const theirs = await pool.map("score", [7, 7, 7]);
    for (const result of theirs) assert.equal(result.computation, mine.computation);
  });
});

test("an entry computed in a worker is reused by the main thread and the other workers", async () => {
  await runInCacheScope({ id: "r" }, async () => {
    const first = await pool.run("score", [8]);
    assert.equal(score(8).computation, first.computation);
    assert.equal(score(8), score(8)); // the main thread's copy keeps its identity
    const all = await pool.run("scoreAll", [[8, 8, 9]]);
    assert.equal(all[0].computation, first.computation);
    assert.notEqual(all[2].computation, first.computation);
  });
});

test("concurrent identical calls in several workers run once", async () => {
  await runInCacheScope({ id: "r" }, async () => {
    const results = await pool.map("slowScore", [5, 5, 5, 6, 5, 6], { concurrency: 3 });
    const runs = new Set(results.map((result) => result.computation));
    assert.equal(runs.size, 2);
    for (const result of results) assert.equal(result.value, heavy(result.n));
  });
});

test("concurrent identical async calls share one promise across threads, the main thread's too", async () => {
  await runInCacheScope({ id: "r" }, async () => {
    // The main thread asks first: a main-thread call that lands while a worker is still in the
    // synchronous part of the same computation computes on its own (it never blocks; see
    // _shared_entries.ts), and how long that part takes in a worker is up to the scheduler.
    const inMain = asyncScore(4);
    assert.equal(inMain, asyncScore(4));
    const inWorkers = pool.map("asyncScore", [4, 4, 4]);
    const results = [...await inWorkers, await inMain];
    assert.equal(new Set(results.map((result) => result.computation)).size, 1);
  });
});

test("two requests never share an entry, even running at the same time", async () => {
  const perRequest = await Promise.all(
    ["a", "b", "c"].map((id) =>
      runInCacheScope({ id }, async (scope) => ({
        scope: scope.id,
        results: [score(1), ...await pool.map("score", [1, 1, 2])],
      }))
    ),
  );
  const runs = perRequest.map(({ results }) => new Set(results.map((r) => r.computation)));
  assert.deepEqual(runs.map((ids) => ids.size), [2, 2, 2]);
  assert.equal(new Set(runs.flatMap((ids) => [...ids])).size, 6);
  for (const { scope, results } of perRequest) {
    for (const result of results) assert.equal(result.scope, scope);
  }
});

test("keys compare by value: equal objects in any field order are one entry", async () => {
  await runInCacheScope({ id: "r" }, async () => {
    const mine = objectKeyed({ n: 3, tags: ["x"] });
    const theirs = await pool.run("objectKeyed", [{ tags: ["x"], n: 3 }]);
    assert.equal(theirs.computation, mine.computation);
    const other = await pool.run("objectKeyed", [{ tags: ["y"], n: 3 }]);
    assert.notEqual(other.computation, mine.computation);
  });
});

test("a key that cannot be cloned is a TypeError naming the function and the argument", () => {
  runInCacheScope({ id: "r" }, () => {
    const shared = perRequestCache((_n: number, _f: () => void) => 1, { name: "withCallback" });
    assert.throws(() => shared(1, () => {}), {
      name: "TypeError",
      message:
        "Cannot call withCallback with a shared cache: argument 2 is not structured-cloneable data that can be compared by value (a function)",
    });
  });
});

test("errors reach every caller and are not stored; a result that cannot be cloned says so", async () => {
  await runInCacheScope({ id: "r" }, async () => {
    await assert.rejects(pool.run("failing", [1]), {
      name: "RangeError",
      message: "no score for 1",
    });
    await assert.rejects(pool.run("failing", [1]), { name: "RangeError" });
    await assert.rejects(pool.run("unshareable", [1]), {
      name: "TypeError",
      message:
        /^Cannot share the result of unshareable across threads: it is not structured-cloneable/,
    });
  });
});

test("the shared pool is disposed", async () => {
  await pool[Symbol.asyncDispose]();
});
