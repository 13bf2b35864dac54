import { test } from "node:test";
import assert from "node:assert/strict";
import { perRequestCache, runInCacheScope } from "../../mod.ts";

const hasDecoratorSyntax = "Deno" in globalThis || "Bun" in globalThis;

test("@perRequestCache caches a method per request, per instance and per arguments", {
  skip: hasDecoratorSyntax ? false : "Node cannot parse decorators yet",
}, async () => {
  const { Users } = await import("./_decorated_users.ts");
  const alice = new Users("a");
  const bob = new Users("b");
  await runInCacheScope({}, async () => {
    assert.equal(alice.find(1), alice.find(1));
    assert.equal(bob.find(1).name, "b1");
    assert.notEqual(alice.find(2), alice.find(1));
    assert.equal(await alice.findAsync(1), await alice.findAsync(1));
  });
  assert.deepEqual([alice.queries, bob.queries], [3, 1]);
  runInCacheScope({}, () => alice.find(1));
  assert.equal(alice.queries, 4, "a new request runs the method again");
});

test("the decorator, applied as the language applies it, keys by instance", () => {
  class Counter {
    runs = 0;
    next(step: number): number {
      return (this.runs += step);
    }
  }
  const context = {
    kind: "method",
    name: "next",
    static: false,
    private: false,
    addInitializer() {},
    access: { has: () => true, get: (o: Counter) => o.next },
    metadata: {},
  } as unknown as ClassMethodDecoratorContext<Counter, (this: Counter, step: number) => number>;
  Counter.prototype.next = perRequestCache(Counter.prototype.next, context);
  const a = new Counter();
  const b = new Counter();
  runInCacheScope({}, (scope) => {
    a.next(1);
    a.next(1);
    b.next(1);
    assert.deepEqual(scope.stats.functions.map((f) => [f.name, f.hits, f.misses]), [[
      "next",
      1,
      2,
    ]]);
  });
  assert.deepEqual([a.runs, b.runs], [1, 1]);
});
