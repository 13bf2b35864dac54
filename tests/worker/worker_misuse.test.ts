/**
 * Every misuse of `@reqcache/core/worker` gets a message in the house grammar, checked word for
 * word here. None of these runs a task; one starts a worker, to see it stopped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import process from "node:process";
import { runInCacheScope } from "../../mod.ts";
import { createWorkerPool, perRequestCache, serveTasks, spawnWorker } from "../../worker.ts";

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
      'Cannot create a worker pool: unknown option "threads"; the options are size, maxQueue, context, cancelGraceMs',
    ],
    [
      { cancelGraceMs: -1 },
      "RangeError",
      "Cannot create a worker pool: cancelGraceMs must be a non-negative number of milliseconds or Infinity, received number -1",
    ],
    [
      { cancelGraceMs: NaN },
      "RangeError",
      "Cannot create a worker pool: cancelGraceMs must be a non-negative number of milliseconds or Infinity, received number NaN",
    ],
    [
      { cancelGraceMs: "300" },
      "TypeError",
      'Cannot create a worker pool: cancelGraceMs must be a non-negative number of milliseconds or Infinity, received the string "300"',
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

/**
 * Runs `fn` on a runtime shaped like workerd's: no `Worker` global, and a `node:worker_threads`
 * whose `Worker` is the given class. Only the runtime is stubbed; the pool is the real one.
 */
async function withWorkerThreads(Worker: unknown, fn: () => unknown): Promise<void> {
  const global = globalThis as {
    Worker?: unknown;
    process: { getBuiltinModule(name: string): unknown };
  };
  const { Worker: webWorker, process } = global;
  const { getBuiltinModule } = process;
  const threads = getBuiltinModule.call(process, "node:worker_threads") as object;
  try {
    delete global.Worker;
    process.getBuiltinModule = (name) =>
      name === "node:worker_threads"
        ? { ...threads, Worker }
        : getBuiltinModule.call(process, name);
    await fn();
  } finally {
    if (webWorker !== undefined) global.Worker = webWorker;
    process.getBuiltinModule = getBuiltinModule;
  }
}

/** The error of a pool whose worker could not be constructed. */
function cannotStart(action: string, cause: string): string {
  return `Cannot ${action}: this runtime could not start a worker from ${url} (${cause}); if it has no workers (workerd), run the work in the request instead`;
}

test("a Worker that throws when constructed fails createWorkerPool and spawnWorker at once, with its error as cause", async () => {
  // workerd's node:worker_threads (nodejs_compat, or nodejs_als from 2026-11-01).
  const notImplemented = new Error("The Worker method is not implemented");
  let constructed = 0;
  class StubWorker {
    constructor() {
      constructed++;
      throw notImplemented;
    }
  }
  await withWorkerThreads(StubWorker, async () => {
    assert.throws(() => createWorkerPool(url, { size: 2 }), {
      name: "TypeError",
      message: cannotStart("create a worker pool", "The Worker method is not implemented"),
      cause: notImplemented,
    });
    assert.equal(constructed, 1, "no second worker is tried");
    await runInCacheScope({ id: "r" }, () => {
      assert.throws(() => spawnWorker(url), {
        name: "TypeError",
        message: cannotStart("spawn a worker", "The Worker method is not implemented"),
        cause: notImplemented,
      });
    });
  });
});

test("when a later worker cannot be constructed, the workers already started are terminated", async () => {
  const threads = process.getBuiltinModule("node:worker_threads");
  const started: { terminated: boolean; exited: Promise<unknown> }[] = [];
  class SecondFails extends threads.Worker {
    constructor(url: URL) {
      if (started.length === 1) throw new Error("no second thread");
      super(url);
      const record = { terminated: false, exited: once(this, "exit") };
      started.push(record);
      const terminate = this.terminate.bind(this);
      this.terminate = () => {
        record.terminated = true;
        return terminate();
      };
    }
  }
  await withWorkerThreads(SecondFails, () => {
    assert.throws(() => createWorkerPool(url, { size: 3 }), {
      name: "TypeError",
      message: cannotStart("create a worker pool", "no second thread"),
    });
  });
  assert.equal(started.length, 1);
  assert.equal(started[0].terminated, true, "the first worker is terminated");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("the first worker did not exit in 10 s")), 10_000);
  });
  await Promise.race([started[0].exited, late]).finally(() => clearTimeout(timer));
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

test("a shared function's name is taken by the first function made with it on a thread", () => {
  const message =
    'Cannot create a shared per-request cache: name is taken by another function on this thread; give each shared function its own name (it matches the function across threads), received the string "misuse:taken"';
  const add = (n: number) => n + 1;
  const first = perRequestCache(add, { name: "misuse:taken" });
  assert.throws(() => perRequestCache((n: number) => n + 2, { name: "misuse:taken" }), {
    name: "TypeError",
    message,
  });
  // The same source is not the same function: two closures of one factory, two bound functions.
  assert.throws(() => perRequestCache((n: number) => n + 1, { name: "misuse:taken" }), {
    name: "TypeError",
    message,
  });
  assert.throws(() => perRequestCache(add.bind(undefined), { name: "misuse:taken" }), {
    name: "TypeError",
    message,
  });
  // The same function again under its name is the same shared function.
  const again = perRequestCache(add, { name: "misuse:taken" });
  runInCacheScope({ id: "r" }, () => {
    assert.equal(first(1), 2);
    assert.equal(again(1), 2);
    assert.equal(again.invalidate(1), true); // first(1)'s entry
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
      "Cannot create a shared per-request cache: the name option is required (it matches the function across threads), received undefined",
  });
  assert.throws(() => perRequestCache((n: number) => n, { name: "" }), {
    name: "TypeError",
    message:
      'Cannot create a shared per-request cache: name must be a non-empty string (it matches the function across threads), received the string ""',
  });
  assert.throws(() => perRequestCache((n: number) => n, { name: "x", threads: 2 } as never), {
    name: "TypeError",
    message:
      'Cannot create a shared per-request cache: unknown option "threads"; the options are key, maxEntries, cacheRejections, tags, outsideScope, name',
  });
  assert.throws(() => perRequestCache((n: number) => n, { name: "x", maxEntries: 0 }), {
    name: "RangeError",
    message:
      "Cannot create a shared per-request cache: maxEntries must be a positive integer or Infinity, received 0",
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
