import { test } from "node:test";
import assert from "node:assert/strict";
import { perRequestCache, runInCacheScope } from "../../mod.ts";

function counted<A extends unknown[]>(name = "counted") {
  let runs = 0;
  const fn = perRequestCache((..._args: A) => ++runs, { name });
  return { fn, runs: () => runs };
}

test("invalidate drops one entry in the current scope, so the next call runs again", () => {
  const { fn, runs } = counted<[string, number]>();
  runInCacheScope({}, () => {
    fn("a", 1);
    fn("b", 1);
    assert.equal(fn.invalidate("a", 1), true);
    assert.equal(fn.invalidate("a", 1), false);
    fn("a", 1);
    fn("b", 1);
  });
  assert.equal(runs(), 3);
});

test("invalidate and clear act on the current scope only", async () => {
  const { fn, runs } = counted<[number]>();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const other = runInCacheScope({ name: "other" }, async () => {
    fn(1);
    await gate;
    fn(1);
    return fn.clear();
  });
  runInCacheScope({ name: "this" }, () => {
    fn(1);
    assert.equal(fn.invalidate(1), true);
    assert.equal(fn.clear(), 0);
  });
  release();
  assert.equal(await other, 1);
  assert.equal(runs(), 2);
});

test("clear drops all of this function's entries and no other function's", () => {
  const a = counted<[number]>("a");
  const b = counted<[number]>("b");
  runInCacheScope({}, (scope) => {
    a.fn(1);
    a.fn(2);
    b.fn(1);
    assert.equal(a.fn.clear(), 2);
    assert.equal(scope.stats.entries, 1);
    b.fn(1);
    a.fn(1);
  });
  assert.deepEqual([a.runs(), b.runs()], [3, 1]);
});

test("prime seeds an entry, and does not overwrite one", async () => {
  const { fn, runs } = counted<[string]>();
  const load = perRequestCache(async (id: string) => ({ id, loaded: true }));
  await runInCacheScope({}, async () => {
    assert.equal(fn.prime(["x"], 42), true);
    assert.equal(fn("x"), 42);
    assert.equal(fn.prime(["x"], 7), false);
    assert.equal(fn("x"), 42);
    const primed = Promise.resolve({ id: "u", loaded: false });
    assert.equal(load.prime(["u"], primed), true);
    assert.deepEqual(await load("u"), { id: "u", loaded: false });
  });
  assert.equal(runs(), 0);
});

test("a primed promise that rejects is evicted like a computed one", async () => {
  const load = perRequestCache(async (id: string) => `loaded ${id}`);
  await runInCacheScope({}, async () => {
    const failing = Promise.reject(new Error("primed failure"));
    load.prime(["a"], failing);
    await assert.rejects(load("a"), /primed failure/);
    assert.equal(await load("a"), "loaded a");
  });
});

test("invalidate on a stacked cached function invalidates through to the one it wraps", () => {
  let innerRuns = 0;
  const inner = perRequestCache((n: number) => (++innerRuns, n * 10));
  const outer = perRequestCache(inner);
  runInCacheScope({}, () => {
    outer(1);
    outer(2);
    assert.equal(outer.invalidate(1), true);
    outer(1);
    outer(2);
    assert.equal(innerRuns, 3);
    outer.clear();
    outer(2);
    assert.equal(innerRuns, 4);
  });
});

test("methods invalidate per instance with invalidate.call(instance, ...args)", () => {
  let runs = 0;
  const label = perRequestCache(function (this: { name: string }, n: number) {
    runs++;
    return `${this.name}${n}`;
  });
  const a = { name: "a", label };
  const b = { name: "b", label };
  runInCacheScope({}, () => {
    a.label(1);
    b.label(1);
    assert.equal(label.invalidate.call(a, 1), true);
    assert.equal(label.invalidate(1), false);
    a.label(1);
    b.label(1);
  });
  assert.equal(runs, 3);
});

test("maxEntries keeps the most recently used entries of the function in the scope", () => {
  const seen: number[] = [];
  const square = perRequestCache((n: number) => (seen.push(n), n * n), { maxEntries: 2 });
  runInCacheScope({}, (scope) => {
    square(1);
    square(2);
    square(1); // 1 is now the most recent
    square(3); // evicts 2
    assert.equal(scope.stats.entries, 2);
    square(1);
    square(2);
  });
  assert.deepEqual(seen, [1, 2, 3, 2]);
});

test("maxEntries also bounds calls with several arguments and with a receiver", () => {
  let runs = 0;
  const pair = perRequestCache((a: number, b: number) => (++runs, a + b), { maxEntries: 3 });
  runInCacheScope({}, (scope) => {
    for (let i = 0; i < 1000; i++) pair(i, i);
    assert.equal(scope.stats.entries, 3);
    pair(999, 999);
    pair(0, 0);
  });
  assert.equal(runs, 1001);
});

test("stats count hits, misses and entries in total and per function", () => {
  const getUser = perRequestCache((id: number) => ({ id }), { name: "getUser" });
  const getFlags = perRequestCache(() => ["beta"]);
  runInCacheScope({}, (scope) => {
    getUser(1);
    getUser(1);
    getUser(2);
    getFlags();
    getFlags();
    getFlags();
    const stats = scope.stats;
    assert.deepEqual([stats.hits, stats.misses, stats.entries], [3, 3, 3]);
    const byName = Object.fromEntries(stats.functions.map((f) => [f.name, f]));
    assert.deepEqual(byName.getUser, { name: "getUser", hits: 1, misses: 2, joins: 0, entries: 2 });
    assert.deepEqual(byName.anonymous, {
      name: "anonymous",
      hits: 2,
      misses: 1,
      joins: 0,
      entries: 1,
    });
  });
});
