import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { perRequestCache, runInCacheScope } from "../../mod.ts";

test("concurrent calls with the same arguments share one in-flight promise", async () => {
  let runs = 0;
  const load = perRequestCache(async (id: number) => {
    runs++;
    await delay(5);
    return { id };
  });
  await runInCacheScope({}, async () => {
    const first = load(1);
    const second = load(1);
    assert.equal(first, second);
    const [a, b] = await Promise.all([first, second]);
    assert.equal(a, b);
  });
  assert.equal(runs, 1);
});

test("a rejected promise is evicted so the next call retries", async () => {
  let runs = 0;
  const flaky = perRequestCache(async () => {
    runs++;
    await delay(1);
    if (runs === 1) throw new Error("first try fails");
    return "ok";
  });
  await runInCacheScope({}, async () => {
    await assert.rejects(flaky(), /first try fails/);
    assert.equal(await flaky(), "ok");
    assert.equal(await flaky(), "ok");
  });
  assert.equal(runs, 2);
});

test("with cacheRejections a rejection stays cached for the scope", async () => {
  let runs = 0;
  const failing = perRequestCache(async () => {
    runs++;
    throw new Error(`failure ${runs}`);
  }, { cacheRejections: true });
  await runInCacheScope({}, async () => {
    await assert.rejects(failing(), /failure 1/);
    await assert.rejects(failing(), /failure 1/);
  });
  assert.equal(runs, 1);
});

test("a synchronous throw is not cached", () => {
  let runs = 0;
  const parse = perRequestCache((text: string) => {
    runs++;
    if (runs === 1) throw new SyntaxError("bad");
    return text.length;
  });
  runInCacheScope({}, (scope) => {
    assert.throws(() => parse("abc"), SyntaxError);
    assert.equal(parse("abc"), 3);
    assert.equal(parse("abc"), 3);
    assert.equal(scope.stats.entries, 1);
  });
  assert.equal(runs, 2);
});

test("a rejection does not evict an entry stored anew after an invalidate", async () => {
  let runs = 0;
  const load = perRequestCache(async () => {
    const run = ++runs;
    await delay(run === 1 ? 10 : 1);
    if (run === 1) throw new Error("slow failure");
    return run;
  });
  await runInCacheScope({}, async () => {
    const failing = load();
    load.invalidate();
    const fresh = load();
    await assert.rejects(failing);
    assert.equal(await fresh, 2);
    assert.equal(load(), fresh);
  });
});

test("a sync function that calls itself with the same arguments gets a RangeError, not a hang", () => {
  const loop: (n: number) => number = perRequestCache((n: number): number => loop(n) + 1, {
    name: "loop",
  });
  runInCacheScope({}, (scope) => {
    assert.throws(() => loop(1), {
      name: "RangeError",
      message: /^Cannot call loop: it called itself with the same arguments/,
    });
    assert.equal(scope.stats.entries, 0);
  });
});

test("a cycle is told before the call's tags option runs again", () => {
  let tagged = 0;
  const loop: (n: number) => number = perRequestCache((n: number): number => loop(n) + 1, {
    name: "loop",
    tags: (n) => {
      tagged++;
      return [`n:${n}`];
    },
  });
  runInCacheScope({}, () => {
    assert.throws(() => loop(1), { name: "RangeError" });
  });
  assert.equal(tagged, 1);
});

test("a cycle of a function with two arguments is told before its tags option runs again", () => {
  let tagged = 0;
  const loop: (a: number, b: number) => number = perRequestCache(
    (a: number, b: number): number => loop(a, b) + 1,
    {
      name: "loop2",
      tags: (a) => {
        tagged++;
        return [`a:${a}`];
      },
    },
  );
  runInCacheScope({}, () => {
    assert.throws(() => loop(1, 2), { name: "RangeError" });
  });
  assert.equal(tagged, 1);
});

test("recursion with other arguments is cached as usual", () => {
  let runs = 0;
  const fib: (n: number) => number = perRequestCache((n: number): number => {
    runs++;
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
  });
  runInCacheScope({}, () => assert.equal(fib(40), 102334155));
  assert.equal(runs, 41);
});
