/**
 * The `schedule` option of `perRequestBatch`: when a batch leaves. It is called once per new
 * batch, in the request's scope; the batch leaves on `dispatch` (once), at once when it reaches
 * `maxBatchSize`, or when the scope ends; a throwing schedule fails its batch.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import diagnosticsChannel from "node:diagnostics_channel";
import {
  type CacheScope,
  currentScope,
  invalidateTags,
  openCacheScope,
  perRequestBatch,
  runInCacheScope,
} from "../../mod.ts";
import { canCollectGarbage, collectGarbage } from "./_heap.ts";

/** Every `dispatch` a schedule was given, to call when the test decides. */
function heldSchedule() {
  const held: (() => void)[] = [];
  const scopes: (CacheScope | undefined)[] = [];
  const schedule = (dispatch: () => void) => {
    held.push(dispatch);
    scopes.push(currentScope());
  };
  return { held, scopes, schedule };
}

function recorder(options: Parameters<typeof perRequestBatch<number, string>>[1]) {
  const batches: number[][] = [];
  const fn = perRequestBatch((keys: readonly number[]) => {
    batches.push([...keys]);
    return keys.map((key) => `value ${key}`);
  }, options);
  return { batches, fn };
}

/**
 * Resolves once a batch made now under DataLoader's rule has left and settled: by then a batch
 * made earlier under that rule would have left too, so one that has not is held by its schedule.
 */
const probe = perRequestBatch((keys: readonly number[]) => keys);
let probes = 0;
function pastTheTick(): Promise<number> {
  return probe(probes++);
}

/** Waits for `done()` to hold, polling each turn of the event loop, for at most 30 s. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await delay(1);
  }
}

test("a schedule is called once per new batch, in the request's scope, and the batch leaves on dispatch", async () => {
  const { held, scopes, schedule } = heldSchedule();
  const { batches, fn } = recorder({ schedule });
  await runInCacheScope({ url: "/a" }, async (scope) => {
    const loads = [fn(1), fn(2), fn(1)];
    await pastTheTick(); // without dispatch the batch still waits
    assert.deepEqual(batches, []);
    assert.equal(held.length, 1);
    assert.equal(scopes[0], scope);
    held[0]();
    assert.deepEqual(await Promise.all(loads), ["value 1", "value 2", "value 1"]);
    assert.deepEqual(batches, [[1, 2]]);
    // The next load starts a new batch, with a new call of schedule.
    const next = fn(3);
    assert.equal(held.length, 2);
    held[1]();
    assert.equal(await next, "value 3");
  });
  assert.deepEqual(batches, [[1, 2], [3]]);
});

test("a batch held open lets loads made after an await, a timer included, share it", async () => {
  // The window closes when the test has seen every load made, not after a fixed time, as a
  // `setTimeout(dispatch, 5)` window would on a machine fast enough.
  const { held, schedule } = heldSchedule();
  const { batches, fn } = recorder({ schedule });
  let made = 0;
  await runInCacheScope({}, async () => {
    const resolver = async (key: number) => {
      await Promise.resolve(); // an await before the load
      await delay(0); // and a turn of the event loop
      made++;
      return fn(key);
    };
    const values = Promise.all([fn(1), resolver(2), resolver(3)]);
    await until(() => made === 2, "both resolvers loaded");
    held[0]();
    assert.deepEqual(await values, ["value 1", "value 2", "value 3"]);
  });
  assert.deepEqual(batches, [[1, 2, 3]]);
  assert.equal(held.length, 1);
});

test("a second call of dispatch does nothing", async () => {
  const { held, schedule } = heldSchedule();
  const { batches, fn } = recorder({ schedule });
  await runInCacheScope({}, async () => {
    const first = fn(1);
    held[0]();
    held[0](); // again: the batch has left, and the next one is not its to send
    const second = fn(2);
    held[0]();
    assert.equal(await first, "value 1");
    await pastTheTick();
    assert.deepEqual(batches, [[1]]);
    held[1]();
    assert.equal(await second, "value 2");
  });
  assert.deepEqual(batches, [[1], [2]]);
});

test("a batch that reaches maxBatchSize leaves at once, and its dispatch then does nothing", async () => {
  const { held, schedule } = heldSchedule();
  const { batches, fn } = recorder({ schedule, maxBatchSize: 2 });
  await runInCacheScope({}, async () => {
    const loads = [fn(1), fn(2)];
    assert.deepEqual(batches, [[1, 2]]); // synchronously, on the load that filled it
    const third = fn(3);
    assert.equal(held.length, 2);
    held[0]();
    assert.deepEqual(await Promise.all(loads), ["value 1", "value 2"]);
    assert.deepEqual(batches, [[1, 2]]);
    held[1]();
    assert.equal(await third, "value 3");
  });
  assert.deepEqual(batches, [[1, 2], [3]]);
});

test("a dispatch called inside schedule sends the batch when schedule returns: batches of one", async () => {
  const { batches, fn } = recorder({ schedule: (dispatch) => dispatch() });
  await runInCacheScope({}, async () => {
    assert.deepEqual(await Promise.all([fn(1), fn(2), fn(1)]), ["value 1", "value 2", "value 1"]);
  });
  assert.deepEqual(batches, [[1], [2]]);
});

test("a schedule that never dispatches: the scope's end sends the batch, outside any scope, and every load settles", async () => {
  const seen: unknown[] = [];
  const fn = perRequestBatch((keys: readonly number[]) => {
    seen.push(currentScope());
    return keys.map((key) => key * 2);
  }, { schedule: () => {}, name: "never" });
  let loads!: Promise<number>[];
  {
    using scope = openCacheScope({ url: "/never" });
    loads = [fn(1), fn(2)];
    await pastTheTick();
    assert.deepEqual(seen, []);
    assert.equal(scope.stats.functions.find((row) => row.name === "never")?.misses, 2);
  }
  assert.deepEqual(seen, [undefined]); // at the end, synchronously
  assert.deepEqual(await Promise.all(loads), [2, 4]);
});

test("a schedule that never dispatches, in runInCacheScope: loads left behind settle when it returns", async () => {
  const { batches, fn } = recorder({ schedule: () => {} });
  const left = await runInCacheScope({}, () => ({ load: fn(5) }));
  assert.deepEqual(batches, [[5]]);
  assert.equal(await left.load, "value 5");
});

test("a schedule that throws fails its batch: its loads reject with the error as cause, and the next load retries", async () => {
  const cause = new Error("no timers here");
  let throws = true;
  const batches: number[][] = [];
  const fn = perRequestBatch((keys: readonly number[]) => {
    batches.push([...keys]);
    return keys.map(String);
  }, {
    name: "getUser",
    cacheRejections: true, // the batch never ran: there is no answer to keep
    schedule: (dispatch) => {
      if (throws) {
        dispatch(); // void: the throw that follows fails the batch
        throw cause;
      }
      queueMicrotask(dispatch);
    },
  });
  await runInCacheScope({}, async (scope) => {
    const first = fn(1);
    const again = fn(1); // the failed batch left no entry: a new batch, which fails too
    for (const load of [first, again]) {
      await assert.rejects(load, (error: Error) => {
        assert.equal(
          error.message,
          "Cannot load getUser: its schedule option threw before the batch left, with the error that is this error's cause",
        );
        assert.equal(error.cause, cause);
        return true;
      });
    }
    assert.equal(scope.stats.entries, 0);
    throws = false;
    assert.equal(await fn(1), "1");
  });
  assert.deepEqual(batches, [[1]]);
});

test("outside any scope a load is a batch of one at once, and schedule is not called", async () => {
  const { held, schedule } = heldSchedule();
  const { batches, fn } = recorder({ schedule });
  assert.deepEqual(await Promise.all([fn(1), fn(2)]), ["value 1", "value 2"]);
  assert.equal(held.length, 0);
  assert.deepEqual(batches, [[1], [2]]);
});

test("two requests get a batch and a schedule call each", async () => {
  const { held, scopes, schedule } = heldSchedule();
  const seen: { request: unknown; keys: number[] }[] = [];
  const fn = perRequestBatch((keys: readonly number[]) => {
    seen.push({ request: currentScope()?.request, keys: [...keys] });
    return keys.map((key) => key);
  }, { schedule });
  const a = { url: "/a" };
  const b = { url: "/b" };
  const both = Promise.all([
    runInCacheScope(a, () => Promise.all([fn(1), fn(2)])),
    runInCacheScope(b, () => Promise.all([fn(2), fn(3)])),
  ]);
  await until(() => held.length === 2, "both requests scheduled a batch");
  assert.deepEqual(scopes.map((scope) => scope?.request), [a, b]);
  held[1]();
  held[0]();
  assert.deepEqual(await both, [[1, 2], [2, 3]]);
  assert.deepEqual(seen, [{ request: b, keys: [2, 3] }, { request: a, keys: [1, 2] }]);
});

test("with a schedule, the cache, tags, invalidate and the channels act as without one", async () => {
  const { held, schedule } = heldSchedule();
  const { batches, fn } = recorder({ schedule, tags: (key) => [`key:${key}`] });
  const sizes: number[] = [];
  const onBatch = (message: unknown) => sizes.push((message as { size: number }).size);
  diagnosticsChannel.subscribe("reqcache:batch", onBatch);
  try {
    await runInCacheScope({}, async (scope) => {
      const first = fn(1);
      fn(2);
      assert.equal(invalidateTags("key:1"), 1); // while the batch waits for dispatch
      assert.equal(fn.invalidate(2), true);
      const again = fn(1); // back into its slot: the batch has not left, its answer is fresh
      assert.equal(again, first);
      assert.deepEqual(sizes, []);
      held[0]();
      assert.equal(await again, "value 1");
      assert.equal(await fn(1), "value 1"); // a hit
      assert.equal(fn.prime(3, "primed"), true);
      assert.equal(await fn(3), "primed");
      assert.deepEqual(scope.stats.functions[0].hits, 2);
    });
  } finally {
    diagnosticsChannel.unsubscribe("reqcache:batch", onBatch);
  }
  assert.deepEqual(batches, [[1, 2]]);
  assert.deepEqual(sizes, [2]);
  assert.equal(held.length, 1);
});

test(
  "a long-lived scope keeps no batch that has left: the scope's end waits on one listener per function, not per batch",
  {
    skip: canCollectGarbage ? false : "no way to run the garbage collector here",
  },
  async () => {
    // The load keys are objects that only their batch holds once it has settled (nothing is
    // kept with `cache: false`): one still alive is a batch the scope still holds.
    const fn = perRequestBatch((keys: readonly { id: number }[]) => keys.map((key) => key.id), {
      schedule: (dispatch) => queueMicrotask(dispatch),
      cache: false,
    });
    const keys: WeakRef<object>[] = [];
    using _scope = openCacheScope({ url: "/long-lived" });
    for (let id = 0; id < 200; id++) {
      const key = { id };
      keys.push(new WeakRef(key));
      assert.equal(await fn(key), id);
    }
    let alive = keys.length;
    for (let round = 0; round < 5 && alive > 0; round++) {
      await collectGarbage();
      alive = keys.filter((key) => key.deref() !== undefined).length;
    }
    // The last batches may still be reachable from the stack or a register: not the 200.
    assert.ok(alive < 10, `${alive} of 200 batches are still held by the open scope`);
  },
);
