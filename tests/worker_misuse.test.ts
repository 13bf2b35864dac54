/**
 * Every misuse of `@reqcache/core/worker` gets a message in the house grammar, checked word for
 * word here. None of these starts a worker.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../mod.ts";
import { createWorkerPool, perRequestCache, serveTasks, spawnWorker } from "../worker.ts";

const url = new URL("./fixtures/tasks.ts", import.meta.url);

test("createWorkerPool rejects bad options up front", () => {
  const cases: [unknown, string, string][] = [
    [
      { size: 0 },
      "RangeError",
      "Cannot create a worker pool: size must be a positive integer, received number 0",
    ],
    [
      { size: "4" },
      "TypeError",
      'Cannot create a worker pool: size must be a positive integer, received the string "4"',
    ],
    [
      { maxQueue: -1 },
      "RangeError",
      "Cannot create a worker pool: maxQueue must be a non-negative integer or Infinity, received number -1",
    ],
    [
      { context: {} },
      "TypeError",
      "Cannot create a worker pool: context must be a function of the scope, received an object",
    ],
    [
      { threads: 2 },
      "TypeError",
      'Cannot create a worker pool: unknown option "threads"; the options are size, maxQueue, context',
    ],
    [5, "TypeError", "Cannot create a worker pool: options must be an object, received number 5"],
  ];
  for (const [options, name, message] of cases) {
    // deno-lint-ignore no-explicit-any
    assert.throws(() => createWorkerPool(url, options as any), { name, message });
  }
  assert.throws(() => createWorkerPool("./tasks.ts"), {
    name: "TypeError",
    message:
      'Cannot create a worker pool: url must be a URL or an absolute URL string, such as new URL("./tasks.ts", import.meta.url), received the string "./tasks.ts"',
  });
});

test("a runtime without workers fails at createWorkerPool, not at the first task", () => {
  const global = globalThis as { Worker?: unknown; process?: { getBuiltinModule?: unknown } };
  const { Worker } = global;
  const getBuiltinModule = global.process?.getBuiltinModule;
  try {
    delete global.Worker;
    if (global.process !== undefined) global.process.getBuiltinModule = undefined;
    assert.throws(() => createWorkerPool(url), {
      name: "TypeError",
      message:
        "Cannot create a worker pool: this runtime has no workers (no Worker global and no node:worker_threads); run the work in the request instead",
    });
  } finally {
    if (Worker !== undefined) global.Worker = Worker;
    if (global.process !== undefined) global.process.getBuiltinModule = getBuiltinModule;
  }
});

test("serveTasks refuses bad tasks, and the main thread", () => {
  assert.throws(() => serveTasks({ score: 42 } as never), {
    name: "TypeError",
    message: 'Cannot serve tasks: task "score" must be a function, received number 42',
  });
  assert.throws(() => serveTasks(null as never), {
    name: "TypeError",
    message: "Cannot serve tasks: tasks must be an object of functions, received null",
  });
  assert.throws(() => serveTasks({ score: () => 1 }), {
    name: "TypeError",
    message:
      "Cannot serve tasks: this is not a worker thread; start this module with createWorkerPool(url) or spawnWorker(url)",
  });
});

test("spawnWorker needs a current scope", () => {
  assert.throws(() => spawnWorker(url), {
    name: "TypeError",
    message:
      "Cannot spawn a worker: no cache scope is current to bind it to; call it inside a request's scope, or use createWorkerPool",
  });
  assert.throws(() => spawnWorker(url, { size: 2 } as never), {
    name: "TypeError",
    message:
      'Cannot spawn a worker: unknown option "size"; the options are maxQueue, context (a spawned worker is one worker)',
  });
});

test("the shared perRequestCache needs a function and a name", () => {
  assert.throws(() => perRequestCache(42 as never, { name: "x" }), {
    name: "TypeError",
    message: "Cannot create a shared per-request cache: fn must be a function, received number 42",
  });
  assert.throws(() => perRequestCache((n: number) => n, {} as never), {
    name: "TypeError",
    message:
      "Cannot create a shared per-request cache: the name option is required (it matches the function across threads)",
  });
  assert.throws(() => perRequestCache((n: number) => n, { name: "" }), {
    name: "TypeError",
    message:
      'Cannot create a shared per-request cache: name must be a non-empty string (it matches the function across threads), received the string ""',
  });
  assert.throws(() => perRequestCache((n: number) => n, { name: "x", maxEntries: 1 } as never), {
    name: "TypeError",
    message:
      'Cannot create a shared per-request cache: unknown option "maxEntries"; the options are name, key',
  });
  const keyed = perRequestCache((n: number) => n, { name: "keyed", key: () => new WeakMap() });
  runInCacheScope({ id: "r" }, () => {
    assert.throws(() => keyed(1), {
      name: "TypeError",
      message:
        "Cannot call keyed with a shared cache: the key its key option returned is not structured-cloneable data that can be compared by value (a WeakMap)",
    });
  });
});
