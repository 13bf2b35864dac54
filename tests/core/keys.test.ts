import { test } from "node:test";
import assert from "node:assert/strict";
import { perRequestCache, runInCacheScope } from "../../mod.ts";

/** A cached function that records every argument list it really ran with. */
function recorder() {
  const runs: unknown[][] = [];
  const fn = perRequestCache((...args: unknown[]) => {
    runs.push(args);
    return runs.length;
  });
  return { fn, runs };
}

test("equal arguments in one scope run the function once", () => {
  const { fn, runs } = recorder();
  runInCacheScope({}, () => {
    assert.equal(fn("a", 1), fn("a", 1));
    assert.equal(fn(), fn());
  });
  assert.equal(runs.length, 2);
});

test("arguments compare with SameValueZero: NaN equals NaN and -0 equals 0", () => {
  const { fn, runs } = recorder();
  runInCacheScope({}, () => {
    fn(NaN);
    fn(NaN);
    fn(0);
    fn(-0);
    fn("x", NaN);
    fn("x", NaN);
  });
  assert.equal(runs.length, 3);
});

test("a function's first key in a scope compares as every later one: NaN, -0 and 0", () => {
  // A table holds its first entry apart from the rest (see _entry_table.ts): both must match.
  for (const [first, again] of [[NaN, NaN], [-0, 0], [0, -0]]) {
    const { fn, runs } = recorder();
    runInCacheScope({}, (scope) => {
      assert.equal(fn(first), fn(again));
      assert.equal(scope.stats.entries, 1);
      fn("second key");
      assert.equal(fn(again), 1);
      assert.equal(scope.stats.entries, 2);
    });
    assert.equal(runs.length, 2, `first key ${first}, then ${again}`);
  }
});

test("objects compare by identity, not by content", () => {
  const { fn, runs } = recorder();
  const a = { id: 1 };
  runInCacheScope({}, () => {
    fn(a);
    fn(a);
    fn({ id: 1 });
    fn([1], a);
    fn([1], a);
  });
  assert.equal(runs.length, 4);
});

test("the number of arguments counts: f(1) is not f(1, undefined)", () => {
  const { fn, runs } = recorder();
  runInCacheScope({}, () => {
    fn(1);
    fn(1, undefined);
    fn(undefined);
    fn();
    fn(undefined, undefined);
    fn(1);
    fn(1, undefined);
  });
  assert.deepEqual(runs, [[1], [1, undefined], [undefined], [], [undefined, undefined]]);
});

test("a call with no arguments is one entry that invalidate() and prime([]) reach", () => {
  const { fn, runs } = recorder();
  runInCacheScope({}, () => {
    assert.equal(fn(), 1);
    assert.equal(fn(), 1);
    assert.equal(fn.invalidate(), true);
    assert.equal(fn(), 2);
    assert.equal(fn.invalidate(), true);
    assert.equal(fn.prime([], 42), true);
    assert.equal(fn(), 42);
    assert.equal(fn(undefined), 3); // one argument: another entry
  });
  assert.deepEqual(runs, [[], [], [undefined]]);
});

test("no two different argument lists share an entry", () => {
  const { fn, runs } = recorder();
  const lists: unknown[][] = [
    ["a", 1],
    ["a", "1"],
    ["a1"],
    [["a", 1]],
    [1, "a"],
    ["a", 1, undefined],
    [null],
    [undefined],
    [0],
    [false],
    [""],
    ["__proto__"],
    ["constructor"],
    [Symbol.iterator],
    [1n],
    [{}],
  ];
  const results = runInCacheScope({}, () => lists.map((args) => fn(...args)));
  assert.equal(new Set(results).size, lists.length);
  assert.equal(runs.length, lists.length);
});

test("arguments are not serialized: an object that cannot be stringified is a fine key", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const { fn, runs } = recorder();
  runInCacheScope({}, () => {
    fn(cyclic, 10n);
    fn(cyclic, 10n);
  });
  assert.equal(runs.length, 1);
});

test("a custom key makes equal-looking arguments share an entry", () => {
  let runs = 0;
  const byId = perRequestCache((query: { id: number; at: number }) => ++runs + query.id, {
    key: (query) => query.id,
  });
  runInCacheScope({}, () => {
    assert.equal(byId({ id: 7, at: 1 }), byId({ id: 7, at: 2 }));
    byId({ id: 8, at: 1 });
  });
  assert.equal(runs, 2);
});

test("the receiver is part of the key: two objects calling the same cached method do not share", () => {
  const area = perRequestCache(function (this: { side: number }) {
    return this.side * this.side;
  });
  const small = { side: 2, area };
  const big = { side: 3, area };
  runInCacheScope({}, () => {
    assert.equal(small.area(), 4);
    assert.equal(big.area(), 9);
    assert.equal(small.area(), 4);
  });
});

test("a function keeps its this, parameters and return value", () => {
  const counter = {
    base: 10,
    add: perRequestCache(function (this: { base: number }, n: number): number {
      return this.base + n;
    }),
  };
  runInCacheScope({}, () => assert.equal(counter.add(5), 15));
});
