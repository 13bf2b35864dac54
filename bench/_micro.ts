/**
 * Issue 5, items 1–4: the hit path against the least a per-request cache can cost, the miss
 * path, the cost of a scope, and the peers a user would pick instead.
 *
 * Every case names the context it runs in (`within`): the hits run inside a scope opened by
 * `runInCacheScope` (what the middleware does), the floors inside `als.run` of a hand-written
 * store, and the scope benchmarks outside any store, which is where `openCacheScope` has to use
 * `enterWith`. Each body hands its result to mitata's `do_not_optimize` so that no engine can
 * drop the call, and `verify` proves, after a few untimed runs, that a "hit" case really hits.
 */
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { do_not_optimize, measure } from "mitata";
import DataLoader from "dataloader";
import { memoize as microMemoize } from "micro-memoize";
import memoize from "memoize";
import moizeModule from "moize";
import { currentScope, openCacheScope, perRequestCache, runInCacheScope } from "../mod.ts";
import { perRequestCache as sharedPerRequestCache } from "../worker.ts";
import {
  type Check,
  medianRatio,
  mitataTiming,
  ratioCheck,
  type Row,
  rowOf,
  type Section,
} from "./_section.ts";

interface User {
  readonly id: number;
}

interface Query {
  readonly id: number;
}

/** One benchmark: its body, the context the body runs in, and what proves the body is honest. */
interface Case {
  readonly name: string;
  /** Enters the body's context (and primes it), runs `work` there, and leaves it. */
  within<T>(work: () => Promise<T>): Promise<T>;
  /** What is timed: one operation, sync or async. */
  body(): unknown;
  /** Runs in the body's context after a few runs of the body. */
  verify?(): void;
}

// Case names that the ratios below refer to.
const FLOOR = "floor: getStore() + Map.get";
const HIT = "hit: 1 argument (number)";
const SHARED_HIT = "shared perRequestCache (worker entry), main thread: hit, 1 argument (number)";
const TABLE_FLOOR = "floor: getStore() + the function's Map + Map.get";
const ASYNC_FLOOR = "floor: await a resolved promise from a Map";
const ASYNC_STORE_FLOOR = "floor: await a resolved promise from getStore()'s Map";
const ASYNC_HIT = "hit: async, awaited";
const DATALOADER = "DataLoader per request: await load() hit";
const MICRO_MEMOIZE = "micro-memoize: hit";
const ENTER_FLOOR = "floor: enterWith(store) + restore";
const OPEN = "openCacheScope(request) + dispose";
const RUN_FLOOR = "floor: als.run(store, fn)";
const RUN = "runInCacheScope(request, fn)";
const ENTER_OBJECTS_FLOOR = "floor: enterWith + restore, and a scope's objects";
const RUN_OBJECTS_FLOOR = "floor: als.run, and a scope's objects";
const ENTER_RECORD_FLOOR = "floor: enterWith + restore, and one scope record as the store";
const RUN_RECORD_FLOOR = "floor: als.run, and one scope record as the store";
const SHARED_MEMO_FLOOR = "floor: hand-written memoizer shared by 5 call shapes, hit";
const UNARY_MEMO_FLOOR = "floor: hand-written one-argument memoizer, hit";

const user: User = { id: 1 };
const query: Query = { id: 1 };
const request = { url: "http://localhost/bench" };
const returnOne = (): number => 1;

// The floor is a hand-written per-request cache: its own store, entered around the request.
const floor = new AsyncLocalStorage<Map<unknown, unknown> | undefined>();
const resolvedUser = Promise.resolve(user);
const resolvedPromises = new Map<number, Promise<User>>([[1, resolvedUser]]);
/**
 * The least a per-request cache for many functions does on a hit, where the floor above serves
 * one: find the function's own `Map` in the request's store (here by index, as the package
 * does), then look the argument up in it.
 */
const tableFloor = new AsyncLocalStorage<Map<unknown, unknown>[] | undefined>();
const FLOOR_TABLE_INDEX = 3;

const noArguments = perRequestCache(() => user);
const byId = perRequestCache((id: number) => ({ id }));
const sharedById = sharedPerRequestCache((id: number) => ({ id }), { name: "bench:sharedById" });
const byNameAndId = perRequestCache((name: string, id: number) => ({ name, id }));
const byQuery = perRequestCache((query: Query) => ({ id: query.id }));
const byQueryId = perRequestCache((query: Query) => ({ id: query.id }), {
  key: (query) => query.id,
});
const asyncById = perRequestCache(async (id: number) => ({ id }));
const missById = perRequestCache((id: number) => id);
let missKey = 0;

/**
 * The objects a scope needs, as bare classes with the field counts of the package's own (a
 * frame, a scope's state, its handle): what allocating them costs on a runtime is a floor for
 * `openCacheScope` and `runInCacheScope` that no bookkeeping can go under. On Bun, where
 * `enterWith` and `run` are cheap, this allocation is most of a scope's cost. The state alone,
 * stored as the context's store with no frame and no handle, is the floor of any object model
 * that keeps what a scope must know (its request, tables, counters, end) in one record.
 */
const noTables: unknown[] = [];
const bareStorage = new AsyncLocalStorage<BareFrame | BareState | undefined>();
// Built as the package builds its own: every field assigned in the constructor (see ScopeState).
class BareFrame {
  declare current: BareState | undefined;
  declare isRun: boolean;
  constructor(isRun: boolean) {
    this.current = undefined;
    this.isRun = isRun;
  }
}
class BareHandle {
  declare state: BareState;
  declare released: boolean;
  constructor(state: BareState) {
    this.state = state;
    this.released = false;
  }
}
class BareState {
  declare request: object;
  declare identity: object;
  declare frame: BareFrame | undefined;
  declare before: unknown;
  declare tables: unknown[];
  declare hits: number;
  declare misses: number;
  declare joins: number;
  declare ended: boolean;
  declare references: number;
  declare watchClient: unknown;
  declare why: string | undefined;
  declare extras: unknown;
  declare handle: BareHandle | undefined;
  /** With a frame: fills its slot and makes a handle. Without: a record that is its own store. */
  constructor(request: object, frame: BareFrame | undefined) {
    this.request = request;
    this.identity = request;
    this.frame = frame;
    this.before = undefined;
    this.tables = noTables;
    this.hits = 0;
    this.misses = 0;
    this.joins = 0;
    this.ended = false;
    this.references = 1;
    this.watchClient = undefined;
    this.why = undefined;
    this.extras = undefined;
    if (frame === undefined) this.handle = undefined;
    else {
      frame.current = this;
      this.handle = new BareHandle(this);
    }
  }
}

/**
 * Per-request memoizers written by hand, with no options, counters or guarantees: each wraps
 * several functions with one function body, as `perRequestCache` does, and finds the wrapped
 * function's `Map` by index in the request's store. The closures of one function body share its
 * compiled code and its type feedback (JSC and V8 alike), so a body that serves several call
 * shapes is compiled for all of them, where each getStore() floor above serves one.
 * `handMemoized` serves the five shapes the package's hits are timed after; `handMemoizedUnary`
 * only one-argument functions (a number key and an object key), the least any shared body can
 * be.
 */
const memoFloor = new AsyncLocalStorage<Map<unknown, unknown>[] | undefined>();
const NO_ARGUMENTS_KEY = Symbol("no arguments");
let memoFloorFunctions = 0;
let memoFloorRuns = 0;
function handMemoized<A extends unknown[], R>(
  fn: (...args: A) => R,
  keyOf?: (...args: A) => unknown,
): (...args: A) => R {
  const index = memoFloorFunctions++;
  return (...args: A): R => {
    const tables = memoFloor.getStore();
    if (tables === undefined) return fn(...args);
    const key = keyOf !== undefined
      ? keyOf(...args)
      : args.length === 0
      ? NO_ARGUMENTS_KEY
      : args.length === 1
      ? args[0]
      : args.join("\0");
    const table = tables[index] ??= new Map();
    let value = table.get(key) as R | undefined;
    if (value === undefined && !table.has(key)) table.set(key, value = fn(...args));
    return value as R;
  };
}
function handMemoizedUnary<T, R>(fn: (arg: T) => R): (arg: T) => R {
  const index = memoFloorFunctions++;
  return (arg: T): R => {
    const tables = memoFloor.getStore();
    if (tables === undefined) return fn(arg);
    const table = tables[index] ??= new Map();
    let value = table.get(arg) as R | undefined;
    if (value === undefined && !table.has(arg)) table.set(arg, value = fn(arg));
    return value as R;
  };
}
const handById = handMemoized((id: number) => ({ id, run: ++memoFloorRuns }));
const handShapes: (() => unknown)[] = [
  handById.bind(undefined, 1),
  handMemoized(() => ({ run: ++memoFloorRuns })),
  handMemoized((name: string, id: number) => ({ name, id, run: ++memoFloorRuns })).bind(
    undefined,
    "a",
    1,
  ),
  handMemoized((query: Query) => ({ id: query.id, run: ++memoFloorRuns })).bind(undefined, query),
  handMemoized((query: Query) => ({ id: query.id, run: ++memoFloorRuns }), (query) => query.id)
    .bind(undefined, query),
];
const unaryById = handMemoizedUnary((id: number) => ({ id, run: ++memoFloorRuns }));
const unaryShapes: (() => unknown)[] = [
  unaryById.bind(undefined, 1),
  handMemoizedUnary((query: Query) => ({ id: query.id, run: ++memoFloorRuns }))
    .bind(undefined, query),
];

/** Inside a fresh store for the hand-written memoizers, after every shape has been called. */
function inMemoFloorStore(shapes: (() => unknown)[]): Case["within"] {
  return (work) =>
    memoFloor.run([], () => {
      for (const call of shapes) call();
      return work();
    });
}

/** A hand-written memoizer's hit runs nothing: the same calls again leave the run count alone. */
function assertHandMemoHits(shapes: (() => unknown)[]): () => void {
  return () => {
    const runs = memoFloorRuns;
    for (const call of shapes) call();
    assert.equal(memoFloorRuns, runs, "a hand-written memoizer's hit ran its function");
  };
}

let loaderBatches = 0;
let loader = newLoader();
function newLoader(): DataLoader<number, User> {
  return new DataLoader<number, User>(async (ids) => {
    loaderBatches++;
    return ids.map((id) => ({ id }));
  });
}

// moize's types declare an ES default export, but its package is CommonJS with
// `module.exports = moize`, so what the default import holds at run time is the function.
const moize = moizeModule as unknown as typeof moizeModule.default;
let peerRuns = 0;
const microMemoized = microMemoize((id: number) => ({ id, run: ++peerRuns }));
const sindreMemoized = memoize((id: number) => ({ id, run: ++peerRuns }));
const moized = moize((id: number) => ({ id, run: ++peerRuns }));
const peers: [string, (id: number) => User][] = [
  [MICRO_MEMOIZE, microMemoized],
  ["memoize (sindresorhus): hit", sindreMemoized],
  ["moize: hit", moized],
];
const globalMemo = new Map<number, User>();
function globalMemoized(id: number): User {
  let value = globalMemo.get(id);
  if (value === undefined) globalMemo.set(id, value = { id });
  return value;
}

/**
 * Inside a fresh scope for `request`, after `prime` stored what the body will hit, and after
 * a promise it stored has settled: a call that shares a pending promise is a join, not a hit.
 */
function inCacheScope(prime: () => unknown): Case["within"] {
  return (work) =>
    runInCacheScope(request, async () => {
      await prime();
      return await work();
    });
}

function inFloorStore<T>(work: () => Promise<T>): Promise<T> {
  return floor.run(new Map<unknown, unknown>([[1, user], [2, resolvedUser]]), work);
}

function inTableFloorStore<T>(work: () => Promise<T>): Promise<T> {
  const tables: Map<unknown, unknown>[] = [];
  tables[FLOOR_TABLE_INDEX] = new Map<unknown, unknown>([[1, user]]);
  return tableFloor.run(tables, work);
}

function outsideAnyStore<T>(work: () => Promise<T>): Promise<T> {
  return work();
}

/** A hit leaves the scope with exactly the priming miss and at least the hits just run. */
function assertOnlyHits(): void {
  const stats = currentScope()?.stats;
  assert.ok(stats !== undefined, "the body ran outside a cache scope");
  assert.equal(stats.misses, 1, "a hit benchmark missed");
  assert.ok(stats.hits >= 3, `a hit benchmark did not hit: ${stats.hits} hits`);
}

function assertNoStoreLeft(): void {
  assert.equal(currentScope(), undefined);
  assert.equal(floor.getStore(), undefined);
  assert.equal(tableFloor.getStore(), undefined);
  assert.equal(bareStorage.getStore(), undefined);
  assert.equal(memoFloor.getStore(), undefined);
}

const cases: readonly Case[] = [
  {
    name: FLOOR,
    within: inFloorStore,
    body: () => do_not_optimize(floor.getStore()?.get(1)),
    verify: () => assert.equal(floor.getStore()?.get(1), user),
  },
  {
    name: TABLE_FLOOR,
    within: inTableFloorStore,
    body: () => do_not_optimize(tableFloor.getStore()?.[FLOOR_TABLE_INDEX]?.get(1)),
    verify: () => assert.equal(tableFloor.getStore()?.[FLOOR_TABLE_INDEX]?.get(1), user),
  },
  {
    name: SHARED_MEMO_FLOOR,
    within: inMemoFloorStore(handShapes),
    body: () => do_not_optimize(handById(1)),
    verify: assertHandMemoHits(handShapes),
  },
  {
    name: UNARY_MEMO_FLOOR,
    within: inMemoFloorStore(unaryShapes),
    body: () => do_not_optimize(unaryById(1)),
    verify: assertHandMemoHits(unaryShapes),
  },
  {
    name: HIT,
    within: inCacheScope(() => byId(1)),
    body: () => do_not_optimize(byId(1)),
    verify: assertOnlyHits,
  },
  {
    name: SHARED_HIT,
    within: inCacheScope(() => sharedById(1)),
    body: () => do_not_optimize(sharedById(1)),
    verify: assertOnlyHits,
  },
  {
    name: "hit: no arguments",
    within: inCacheScope(() => noArguments()),
    body: () => do_not_optimize(noArguments()),
    verify: assertOnlyHits,
  },
  {
    name: "hit: 2 arguments (string, number)",
    within: inCacheScope(() => byNameAndId("a", 1)),
    body: () => do_not_optimize(byNameAndId("a", 1)),
    verify: assertOnlyHits,
  },
  {
    name: "hit: 1 argument (object)",
    within: inCacheScope(() => byQuery(query)),
    body: () => do_not_optimize(byQuery(query)),
    verify: assertOnlyHits,
  },
  {
    name: "hit: custom key",
    within: inCacheScope(() => byQueryId({ id: 1 })),
    body: () => do_not_optimize(byQueryId(query)),
    verify: assertOnlyHits,
  },
  {
    name: ASYNC_FLOOR,
    within: outsideAnyStore,
    body: async () => do_not_optimize(await resolvedPromises.get(1)),
  },
  {
    name: ASYNC_STORE_FLOOR,
    within: inFloorStore,
    body: async () => do_not_optimize(await floor.getStore()?.get(2)),
    verify: () => assert.equal(floor.getStore()?.get(2), resolvedUser),
  },
  {
    name: ASYNC_HIT,
    within: inCacheScope(() => asyncById(1)),
    body: async () => do_not_optimize(await asyncById(1)),
    verify: assertOnlyHits,
  },
  {
    // Keys 1..1023, then clear(): a miss every call, with a bounded table.
    name: "miss: 1 argument (number)",
    within: inCacheScope(() => {}),
    body: () => {
      if (++missKey === 1024) {
        missKey = 1;
        missById.clear();
      }
      do_not_optimize(missById(missKey));
    },
    verify: () => assert.ok((currentScope()?.stats.misses ?? 0) >= 3),
  },
  {
    name: DATALOADER,
    within: (work) => {
      loader = newLoader();
      loader.prime(1, user);
      return work();
    },
    body: async () => do_not_optimize(await loader.load(1)),
    verify: () => assert.equal(loaderBatches, 0, "a DataLoader hit ran the batch function"),
  },
  ...peers.map(([name, hit]): Case => {
    return {
      name,
      within: (work) => {
        hit(1);
        return work();
      },
      body: () => do_not_optimize(hit(1)),
      verify: () => {
        const runs = peerRuns;
        assert.equal(hit(1), hit(1));
        assert.equal(peerRuns, runs, `${name} did not hit`);
      },
    };
  }),
  {
    name: "global Map memo (not per request): hit",
    within: (work) => {
      globalMemoized(1);
      return work();
    },
    body: () => do_not_optimize(globalMemoized(1)),
  },
  {
    name: ENTER_FLOOR,
    within: outsideAnyStore,
    body: () => {
      const before = floor.getStore();
      floor.enterWith(new Map());
      floor.enterWith(before);
    },
    verify: assertNoStoreLeft,
  },
  {
    name: ENTER_OBJECTS_FLOOR,
    within: outsideAnyStore,
    body: () => {
      const before = bareStorage.getStore();
      const frame = new BareFrame(false);
      new BareState(request, frame); // fills frame.current
      bareStorage.enterWith(frame);
      bareStorage.enterWith(before);
    },
    verify: assertNoStoreLeft,
  },
  {
    name: ENTER_RECORD_FLOOR,
    within: outsideAnyStore,
    body: () => {
      const before = bareStorage.getStore();
      bareStorage.enterWith(new BareState(request, undefined));
      bareStorage.enterWith(before);
    },
    verify: assertNoStoreLeft,
  },
  {
    name: OPEN,
    within: outsideAnyStore,
    body: () => openCacheScope(request)[Symbol.dispose](),
    verify: assertNoStoreLeft,
  },
  {
    // What a handler's `using scope = openCacheScope(req)` costs under the middleware.
    name: "openCacheScope + dispose, joining the run context's scope",
    within: inCacheScope(() => {}),
    body: () => openCacheScope(request)[Symbol.dispose](),
    verify: () => assert.equal(currentScope()?.request, request),
  },
  {
    name: RUN_FLOOR,
    within: outsideAnyStore,
    body: () => do_not_optimize(floor.run(new Map(), returnOne)),
    verify: assertNoStoreLeft,
  },
  {
    name: RUN_OBJECTS_FLOOR,
    within: outsideAnyStore,
    body: () => {
      const frame = new BareFrame(true);
      new BareState(request, frame); // fills frame.current
      return do_not_optimize(bareStorage.run(frame, returnOne));
    },
    verify: assertNoStoreLeft,
  },
  {
    name: RUN_RECORD_FLOOR,
    within: outsideAnyStore,
    body: () => do_not_optimize(bareStorage.run(new BareState(request, undefined), returnOne)),
    verify: assertNoStoreLeft,
  },
  {
    name: RUN,
    within: outsideAnyStore,
    body: () => do_not_optimize(runInCacheScope(request, returnOne)),
    verify: assertNoStoreLeft,
  },
];

/** Issue 5's targets (a `max`), and ratios shown for information (no `max`). */
const ratios: readonly { of: string; over: string; max?: number }[] = [
  { of: HIT, over: FLOOR, max: 1.5 },
  { of: HIT, over: DATALOADER, max: 1 },
  { of: HIT, over: MICRO_MEMOIZE, max: 2 },
  { of: ASYNC_HIT, over: ASYNC_FLOOR, max: 1.2 },
  // Issue 23's target: the shared function's hit is the core's, with a key by value.
  { of: SHARED_HIT, over: HIT, max: 3 },
  { of: OPEN, over: ENTER_FLOOR, max: 1.5 },
  { of: RUN, over: RUN_FLOOR, max: 1.5 },
  // The floors that bound the hits: a second lookup, for the function's own table, is where
  // JSC's cheap getStore() leaves no room (Bun); an async function pays for getStore() (V8).
  { of: TABLE_FLOOR, over: FLOOR },
  { of: HIT, over: TABLE_FLOOR },
  // The floors of a function body shared by many cached functions (JSC compiles it once for all
  // the shapes it has served): the hit over them is what the package's own bookkeeping adds.
  { of: UNARY_MEMO_FLOOR, over: FLOOR },
  { of: SHARED_MEMO_FLOOR, over: FLOOR },
  { of: HIT, over: SHARED_MEMO_FLOOR },
  { of: ASYNC_STORE_FLOOR, over: ASYNC_FLOOR },
  { of: ASYNC_HIT, over: ASYNC_STORE_FLOOR },
  // The floors that bound the two scope targets, where allocation outweighs the context switch
  // (Bun).
  { of: ENTER_RECORD_FLOOR, over: ENTER_FLOOR },
  { of: ENTER_OBJECTS_FLOOR, over: ENTER_FLOOR },
  { of: OPEN, over: ENTER_OBJECTS_FLOOR },
  { of: RUN_RECORD_FLOOR, over: RUN_FLOOR },
  { of: RUN_OBJECTS_FLOOR, over: RUN_FLOOR },
  { of: RUN, over: RUN_OBJECTS_FLOOR },
  { of: "hit: no arguments", over: FLOOR },
  { of: "hit: 2 arguments (string, number)", over: FLOOR },
  { of: "hit: 1 argument (object)", over: FLOOR },
  { of: "hit: custom key", over: FLOOR },
  { of: ASYNC_HIT, over: DATALOADER },
  { of: HIT, over: "global Map memo (not per request): hit" },
];

/** The micro-benchmarks of issue 5, items 1–4. */
export const microSection: Section = {
  title: "Micro-benchmarks (items 1–4)",

  async measure(rounds) {
    // Warm-up, and proof that each body does what its name says. Every cached function shares
    // the one compiled `cached` body, so it is timed after it has seen every call shape, as in
    // an application with many cached functions, not while it is still specialized for one.
    await this.smoke();
    const perRound = new Map<string, number[]>(cases.map(({ name }) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      // Interleaved rounds: a drift of the machine's speed lands on every case alike.
      for (const { name, within, body } of cases) {
        const stats = await within(() => measure(body, { ...mitataTiming }));
        perRound.get(name)!.push(stats.p50);
      }
    }
    const rows: Row[] = cases.map(({ name }) => rowOf(name, perRound.get(name)!));
    const checks: Check[] = ratios.map(({ of, over, max }) =>
      ratioCheck(`${of} / ${over}`, medianRatio(perRound.get(of)!, perRound.get(over)!), max)
    );
    return {
      rows,
      checks,
      notes: [
        `ns/op: median over ${rounds} round(s) of mitata's per-round median; ratios: median of per-round ratios.`,
      ],
    };
  },

  async smoke() {
    for (const { within, body, verify } of cases) {
      await within(async () => {
        for (let i = 0; i < 3; i++) await body();
        verify?.();
      });
      assertNoStoreLeft();
    }
  },
};
