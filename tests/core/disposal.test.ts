import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { currentScope, openCacheScope, perRequestCache, runInCacheScope } from "../../mod.ts";

test("disposing drops every entry of the scope at once", () => {
  const a = perRequestCache((n: number) => n);
  const b = perRequestCache((s: string, n: number) => s + n);
  const scope = openCacheScope({});
  a(1);
  a(2);
  b("x", 1);
  assert.equal(scope.stats.entries, 3);
  scope[Symbol.dispose]();
  assert.equal(scope.stats.entries, 0);
  assert.equal(scope.disposed, true);
  assert.equal(currentScope(), undefined);
});

test("an ended scope keeps its totals of hits, misses and joins, and lists no function", async () => {
  const a = perRequestCache((n: number) => n);
  const b = perRequestCache(async (s: string) => s);
  const scope = openCacheScope({});
  a(1);
  a(1);
  a(1);
  const pending = b("x");
  b("x"); // a join: its promise has not settled yet
  await pending;
  b("x");
  scope[Symbol.dispose]();
  const { hits, misses, joins, entries, functions } = scope.stats;
  assert.deepEqual({ hits, misses, joins, entries, functions }, {
    hits: 3,
    misses: 2,
    joins: 1,
    entries: 0,
    functions: [],
  });
});

test("disposing twice is a no-op", () => {
  const outer = openCacheScope({ name: "outer" });
  const scope = openCacheScope();
  scope[Symbol.dispose]();
  scope[Symbol.dispose]();
  assert.equal(scope.disposed, true);
  outer[Symbol.dispose]();
  assert.equal(currentScope(), undefined);
});

test("after disposal, late code runs uncached and stores nothing", async () => {
  let runs = 0;
  const load = perRequestCache(async (id: number) => {
    runs++;
    await delay(1);
    return id;
  });
  let late: Promise<number[]> | undefined;
  const scope = await runInCacheScope({}, async (scope) => {
    await load(1);
    late = (async () => {
      await delay(20);
      assert.equal(currentScope(), undefined);
      return [await load(1), await load(1)];
    })();
    return scope;
  });
  assert.equal(scope.disposed, true);
  assert.deepEqual(await late, [1, 1]);
  assert.equal(runs, 3);
  assert.equal(scope.stats.entries, 0);
});

test("a timer set inside a using block runs uncached after the block", async () => {
  let runs = 0;
  const count = perRequestCache(() => ++runs);
  let timerSaw: unknown = "not run";
  await (async () => {
    using scope = openCacheScope({});
    count();
    setTimeout(() => {
      timerSaw = currentScope();
      count();
      count();
    }, 5);
    assert.equal(scope.stats.misses, 1);
  })();
  await delay(30);
  assert.equal(timerSaw, undefined);
  assert.equal(runs, 3);
});

test("a promise that settles after disposal is not stored in the dead scope", async () => {
  const slow = perRequestCache(async () => {
    await delay(10);
    return "late";
  });
  let pending: Promise<string> | undefined;
  const scope = runInCacheScope({}, (scope) => {
    pending = slow();
    return scope;
  });
  assert.equal(scope.disposed, true);
  assert.equal(await pending, "late");
  assert.equal(scope.stats.entries, 0);
});

test("runInCacheScope ends the scope when fn throws, and when its promise rejects", async () => {
  let seen: ReturnType<typeof currentScope>;
  assert.throws(() =>
    runInCacheScope({}, (scope) => {
      seen = scope;
      throw new Error("sync");
    }), /sync/);
  assert.equal(seen!.disposed, true);
  await assert.rejects(
    runInCacheScope({}, async (scope) => {
      seen = scope;
      await delay(1);
      throw new Error("async");
    }),
    /async/,
  );
  assert.equal(seen!.disposed, true);
  assert.equal(currentScope(), undefined);
});

test("end listeners run once when the last handle ends, and all run if one throws", () => {
  const calls: string[] = [];
  const request = {};
  const outer = openCacheScope(request);
  const joined = openCacheScope(request);
  outer.onEnd(() => calls.push("first"));
  joined.onEnd(() => {
    throw new Error("listener failed");
  });
  outer.onEnd(() => calls.push("third"));
  joined[Symbol.dispose]();
  assert.equal(calls.length, 0);
  assert.throws(() => outer[Symbol.dispose](), AggregateError);
  assert.deepEqual(calls, ["first", "third"]);
  outer.onEnd(() => calls.push("late"));
  assert.deepEqual(calls, ["first", "third", "late"]);
  assert.equal(currentScope(), undefined);
});
