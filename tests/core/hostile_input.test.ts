/**
 * Hostile input: huge argument lists, a million keys, prototype-polluting names, objects that
 * throw when touched, and options that lie. Each gets the documented behaviour or a clear error,
 * Object.prototype is never written, and nothing reaches another scope.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { currentScope, openCacheScope, perRequestCache, runInCacheScope } from "../../mod.ts";
import { canCollectGarbage, collectGarbage, heapUsed, mib } from "./_heap.ts";

const pollutingNames = [
  "__proto__",
  "constructor",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "prototype",
  "__defineGetter__",
];

/** Own property names and descriptors of Object.prototype, to show that nothing wrote there. */
function objectPrototypeSnapshot(): string {
  return JSON.stringify(
    Reflect.ownKeys(Object.prototype).map((key) => {
      const descriptor = Object.getOwnPropertyDescriptor(Object.prototype, key)!;
      return [String(key), typeof descriptor.value, typeof descriptor.get, descriptor.writable];
    }),
  );
}

/** An object that throws on every operation a library could perform on it. */
function booby(label: string): object {
  return new Proxy({}, {
    get: () => {
      throw new Error(`${label} was read`);
    },
    has: () => {
      throw new Error(`${label} was probed`);
    },
    ownKeys: () => {
      throw new Error(`${label} was enumerated`);
    },
    getPrototypeOf: () => {
      throw new Error(`${label}'s prototype was read`);
    },
    getOwnPropertyDescriptor: () => {
      throw new Error(`${label} was inspected`);
    },
    set: () => {
      throw new Error(`${label} was written`);
    },
    defineProperty: () => {
      throw new Error(`${label} was defined on`);
    },
  });
}

test("an argument list of 10,000 items is keyed by every item, without serializing", () => {
  let runs = 0;
  const wide = perRequestCache((...items: unknown[]) => (runs++, items.length));
  const items = Array.from(
    { length: 10_000 },
    (_, i) => (i % 3 === 0 ? { i } : i % 3 === 1 ? `s${i}` : i),
  );
  runInCacheScope({}, (scope) => {
    assert.equal(wide(...items), 10_000);
    assert.equal(wide(...items), 10_000);
    assert.equal(runs, 1);
    wide(...items.slice(0, -1), "other last");
    wide("other first", ...items.slice(1));
    wide(...items, undefined);
    wide.call(items, ...items);
    assert.equal(runs, 5);
    assert.equal(scope.stats.entries, 5);
    assert.equal(wide.invalidate(...items), true);
    assert.equal(scope.stats.entries, 4);
  });
  runInCacheScope({}, (other) => {
    assert.equal(wide(...items), 10_000);
    assert.equal(runs, 6, "another scope does not see the first scope's entry");
    assert.equal(other.stats.entries, 1);
  });
});

test("10,000 items in a 10,000-argument call, with maxEntries 1, keep one entry", () => {
  const wide = perRequestCache((...items: unknown[]) => items.length, { maxEntries: 1 });
  runInCacheScope({}, (scope) => {
    for (let round = 0; round < 20; round++) {
      wide(...Array.from({ length: 10_000 }, (_, i) => `${round}:${i}`));
    }
    assert.equal(scope.stats.entries, 1);
    assert.equal(scope.stats.misses, 20);
  });
});

test("1,000,000 distinct keys in one scope with maxEntries stay bounded, in entries and in heap", {
  timeout: 60_000, // about 2 s alone; Bun's default of 5 s is too tight on a busy machine
}, async () => {
  const one = perRequestCache((id: number) => id, { maxEntries: 100 });
  const two = perRequestCache((id: number, tag: string) => id + tag.length, { maxEntries: 100 });
  const request = { url: "/flood" };
  await collectGarbage();
  const before = heapUsed();
  let peakEntries = 0;
  let during = 0;
  await runInCacheScope(request, async (scope) => {
    for (let i = 0; i < 1_000_000; i++) {
      one(i);
      if (i % 2 === 0) two(i, "t");
      if (i % 100_000 === 0) peakEntries = Math.max(peakEntries, scope.stats.entries);
    }
    assert.equal(scope.stats.entries, 200);
    assert.equal(scope.stats.misses, 1_500_000);
    await collectGarbage();
    during = heapUsed() - before;
  });
  assert.ok(peakEntries <= 200, `peak entries ${peakEntries}`);
  if (canCollectGarbage) {
    // Unbounded, 1.5 million entries would hold well over 50 MiB; bounded, they hold almost none.
    assert.ok(during < 4 * 1024 * 1024, `heap grew by ${mib(during)} with the scope still open`);
  }
});

test("prototype-polluting strings as arguments, receivers and custom keys are plain keys", () => {
  const before = objectPrototypeSnapshot();
  let runs = 0;
  const echo = perRequestCache(function (this: unknown, ...args: unknown[]) {
    runs++;
    return `${String(this)}|${args.join(",")}`;
  });
  const keyed = perRequestCache((name: string) => (runs++, name.toUpperCase()), {
    key: (name) => name,
  });
  runInCacheScope({}, (scope) => {
    for (const name of pollutingNames) {
      assert.equal(echo(name), `undefined|${name}`);
      assert.equal(echo(name, name), `undefined|${name},${name}`);
      assert.equal(echo.call(name, name), `${name}|${name}`);
      assert.equal(keyed(name), name.toUpperCase());
      assert.equal(echo.prime([`${name}!`], `primed ${name}`), true);
    }
    const distinct = pollutingNames.length;
    assert.equal(runs, distinct * 4);
    for (const name of pollutingNames) {
      echo(name);
      echo(name, name);
      echo.call(name, name);
      keyed(name);
      assert.equal(echo(`${name}!`), `primed ${name}`);
    }
    assert.equal(runs, distinct * 4, "every second call is a hit");
    assert.equal(scope.stats.entries, distinct * 5);
    assert.equal(echo.invalidate("__proto__"), true);
    assert.equal(echo.invalidate("__proto__"), false);
    assert.equal(keyed.clear(), distinct);
  });
  assert.equal(objectPrototypeSnapshot(), before);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("prototype-polluting names as the name option or the function's name give right stats rows", () => {
  const before = objectPrototypeSnapshot();
  const byOption = pollutingNames.map((name) => perRequestCache((n: number) => n, { name }));
  // Functions whose own name is "__proto__", "constructor", ...
  const byOwnName = pollutingNames.map((name) => {
    const holder = { [name]: (n: number) => -n };
    return perRequestCache(Object.getOwnPropertyDescriptor(holder, name)!.value);
  });
  runInCacheScope({}, (scope) => {
    byOption.forEach((fn, i) => {
      fn(1);
      fn(1);
      for (let j = 0; j < i; j++) fn(j + 2);
    });
    byOwnName.forEach((fn) => fn(1));
    const rows = scope.stats.functions;
    assert.deepEqual(
      rows.map((row) => ({ ...row })),
      [
        ...pollutingNames.map((name, i) => ({
          name,
          hits: 1,
          misses: 1 + i,
          joins: 0,
          entries: 1 + i,
        })),
        ...pollutingNames.map((name) => ({ name, hits: 0, misses: 1, joins: 0, entries: 1 })),
      ],
    );
    for (const row of rows) {
      assert.equal(Object.getPrototypeOf(row), Object.prototype);
      assert.deepEqual(Object.keys(row), ["name", "hits", "misses", "joins", "entries"]);
    }
    assert.equal(JSON.parse(JSON.stringify(scope.stats)).functions.length, rows.length);
  });
  byOption.forEach((fn, i) => assert.equal(fn.name, pollutingNames[i]));
  assert.equal(objectPrototypeSnapshot(), before);
});

test("objects that throw on any access are never touched as arguments, receivers or primed args", () => {
  const a = booby("argument a");
  const b = booby("argument b");
  let runs = 0;
  const fn = perRequestCache(function (this: unknown, ..._args: unknown[]) {
    return ++runs;
  });
  runInCacheScope({}, (scope) => {
    assert.equal(fn(a), fn(a));
    assert.equal(fn(a, b), fn(a, b));
    assert.equal(fn.call(b, a), fn.call(b, a));
    assert.notEqual(fn(b), fn(a));
    assert.equal(fn.prime([b, a], 99), true);
    assert.equal(fn(b, a), 99);
    assert.equal(fn.invalidate(a, b), true);
    assert.equal(fn.invalidate.call(b, a), true);
    assert.equal(scope.stats.entries, 3);
  });
  assert.equal(runs, 4);
});

test("a request object that throws on access: the error surfaces from opening, and no scope is left", () => {
  const request = booby("request");
  assert.throws(() => openCacheScope(request), /request was read|request's prototype was read/);
  assert.throws(
    () => runInCacheScope(request, () => assert.fail("must not run")),
    /request was read|request's prototype was read/,
  );
  assert.equal(currentScope(), undefined);
  const rawGetterThrows = {
    get raw(): never {
      throw new Error("raw getter");
    },
  };
  assert.throws(() => openCacheScope(rawGetterThrows), /raw getter/);
  assert.equal(currentScope(), undefined);
});

test("a request parsed from JSON with __proto__ and raw keys is a request of its own", () => {
  const before = objectPrototypeSnapshot();
  const request = JSON.parse('{"__proto__": {"raw": {"url": "/admin"}}, "raw": {"url": "/x"}}');
  const other = JSON.parse('{"__proto__": {"raw": {"url": "/admin"}}, "raw": {"url": "/x"}}');
  runInCacheScope(request, (scope) => {
    assert.equal(scope.request, request);
    runInCacheScope(other, (inner) => assert.notEqual(inner.id, scope.id));
  });
  assert.equal(objectPrototypeSnapshot(), before);
});

test("options whose getters throw: the getter's own error surfaces from perRequestCache", () => {
  const boom = new Error("maxEntries getter");
  assert.throws(() =>
    perRequestCache((n: number) => n, {
      get maxEntries(): number {
        throw boom;
      },
    }), (error) => error === boom);
  const proxied = new Proxy({}, {
    ownKeys: () => {
      throw new Error("options enumerated");
    },
  });
  assert.throws(() => perRequestCache((n: number) => n, proxied), /options enumerated/);
});

test("options are read once, so a getter that changes its answer cannot slip past the checks", () => {
  let reads = 0;
  const options = {
    get maxEntries(): number {
      return ++reads === 1 ? 2 : 0;
    },
  };
  const fn = perRequestCache((n: number) => n, options);
  assert.equal(reads, 1);
  runInCacheScope({}, (scope) => {
    for (let i = 0; i < 10; i++) fn(i);
    assert.equal(scope.stats.entries, 2);
  });
  assert.equal(reads, 1);
});

test("a function whose name getter throws: the error surfaces, unless a name option is given", () => {
  const fn = (n: number) => n;
  Object.defineProperty(fn, "name", {
    get() {
      throw new Error("name getter");
    },
  });
  assert.throws(() => perRequestCache(fn), /name getter/);
  const named = perRequestCache(fn, { name: "safe" });
  assert.equal(named.name, "safe");
});

test(
  "a function whose own name is not a string is cached under a string name",
  () => {
    const body = (n: number): number => loop(n);
    Object.defineProperty(body, "name", { value: Symbol("hostile") });
    const loop: (n: number) => number = perRequestCache(body);
    runInCacheScope({}, (scope) => {
      assert.throws(() => loop(1), RangeError);
      (loop as ReturnType<typeof perRequestCache<typeof body>>).prime([2], 2);
      assert.equal(typeof scope.stats.functions[0].name, "string");
    });
    assert.equal(typeof loop.name, "string");
  },
);

test(
  "options are read from the options object itself, not from a polluted Object.prototype",
  () => {
    Object.defineProperty(Object.prototype, "key", {
      value: () => "everyone",
      configurable: true,
      writable: true,
    });
    try {
      const getUser = perRequestCache((id: number) => ({ id }), { name: "getUser" });
      runInCacheScope({}, () => {
        assert.equal(getUser(1).id, 1);
        assert.equal(getUser(2).id, 2);
      });
    } finally {
      delete (Object.prototype as { key?: unknown }).key;
    }
    assert.equal(({} as { key?: unknown }).key, undefined);
  },
);

test("nothing from a hostile scope is visible in the next one", () => {
  const fn = perRequestCache((...args: unknown[]) => args.length);
  const hostile = [booby("x"), "__proto__", NaN, -0, Symbol("s"), ...pollutingNames];
  runInCacheScope({}, () => hostile.forEach((value) => fn(value)));
  runInCacheScope({}, (scope) => {
    assert.equal(scope.stats.entries, 0);
    assert.equal(fn.invalidate("__proto__"), false);
    assert.equal(fn.clear(), 0);
  });
});
