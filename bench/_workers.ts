/**
 * Issue 5, item 6: what the worker pool adds to a round trip to a worker, and what it saves
 * against starting a worker for each request.
 *
 * The baseline is a bare round trip: `postMessage` of a number to a worker that posts the
 * message straight back (`_echo_worker.ts`), started the way the pool starts its own (a Web
 * Worker on Deno and Bun, `node:worker_threads` on Node). The floor is the least any pool must
 * do on top of it for each task: a promise, and an id in the message (a flat `[id, value]`
 * array, the cheapest message but a number to clone) with a map entry that finds the promise
 * from the answer; for a request with one task, the same inside a `runInCacheScope` of its
 * own, as the caller opens it. What the floors cost over the bare round trip is out of the
 * pool's reach; they are printed so that a missed target says how much of it they already take.
 * The pool runs a task that returns its argument
 * (`_echo_tasks.ts`) in a pool of one worker, so that both sides use one thread each: inside
 * a scope that is already open (a request's second and later tasks), in a new scope per task
 * (a request with one task: the task carries the scope in, and the next task its end), and
 * outside any scope. Spawning per request is `spawnWorker` (one worker bound to the
 * request, terminated when it ends) with one task.
 *
 * Then the pool against piscina, its peer, with two threads each (see `_piscina_peer.ts`).
 *
 * Two threads passing a message back and forth are at the mercy of the scheduler on a shared
 * 2-core machine (the same case moves by 2× between rounds), so there are twice as many rounds
 * as the micro-benchmarks take, interleaved in a rotating order; each figure is the median over
 * rounds of the mean time per operation in that round, and each ratio the median of the
 * per-round ratios.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { setTimeout as delay } from "node:timers/promises";
import { currentScope, runInCacheScope } from "../mod.ts";
import { createWorkerPool, spawnWorker, type WorkerPool } from "../worker.ts";
import type { tasks } from "./_echo_tasks.ts";
import { sharedHitsInWorker } from "./_shared_hits.ts";
import {
  type Check,
  median,
  medianRatio,
  ratioCheck,
  rotated,
  type Row,
  rowOf,
  type Section,
} from "./_section.ts";
import {
  OURS_IN_FLIGHT,
  OURS_SCOPED_IN_FLIGHT,
  OURS_SCOPED_SEQUENTIAL,
  OURS_SEQUENTIAL,
  PEER_THREADS,
  peerCases,
  PISCINA_IN_FLIGHT,
  PISCINA_SEQUENTIAL,
  type PiscinaPool,
  startPiscina,
} from "./_piscina_peer.ts";

const BARE = "bare postMessage round trip";
const IN_SCOPE = "pool.run, in an open scope";
const SCOPE_PER_TASK = "pool.run, one new scope per task";
const NO_SCOPE = "pool.run, outside any scope";
const SPAWN = "spawnWorker + run + terminate, per request";
const FLOOR = "floor: round trip + a promise and a map entry per task";
const FLOOR_SCOPE = "floor, in one new scope per task (runInCacheScope around it)";

/** Issue 5's target: a task through the pool costs at most this many bare round trips. */
const maxPoolOverhead = 1.3;
/** Issue 23's target: a task in a new scope costs at most this many of piscina's tasks. */
const maxOverPiscina = 1.1;

/** Operations per case and round: round trips are tens of µs, a spawn tens of ms. */
const roundTrips = 4_000;
const spawns = 4;

const ECHO_TASKS = new URL("./_echo_tasks.ts", import.meta.url);
const ECHO_WORKER = new URL("./_echo_worker.ts", import.meta.url);
const request = { url: "http://localhost/bench" };

type EchoPool = WorkerPool<typeof tasks>;

/** The part of a worker used here, whichever kind it is. */
interface BareWorker {
  roundTrip(value: number): Promise<unknown>;
  /**
   * The least a pool must do per task: a promise, an id in the message (`[id, value]`, which
   * the worker posts back as it came) and a map entry that finds the promise from the answer.
   */
  task(value: number): Promise<unknown>;
  terminate(): Promise<void>;
}

interface NodeWorker {
  postMessage(message: unknown): void;
  on(event: "message" | "error", listener: (data: unknown) => void): void;
  terminate(): Promise<number>;
}

/** A worker echoing messages, started as the pool starts its workers on this runtime. */
function startBareWorker(): BareWorker {
  // Each round trip waits for its answer, so one pending promise at a time is all there is.
  let answer: ((data: unknown) => void) | undefined;
  let fail: ((error: unknown) => void) | undefined;
  const tasks = new Map<number, (value: unknown) => void>();
  let nextTask = 0;
  const onMessage = (data: unknown) => {
    if (!Array.isArray(data)) return answer?.(data);
    const settle = tasks.get(data[0]);
    tasks.delete(data[0]);
    settle?.(data[1]);
  };
  const onError = (error: unknown) => fail?.(error);
  const pending = (post: () => void) =>
    new Promise<unknown>((resolve, reject) => {
      answer = resolve;
      fail = reject;
      post();
    });
  const task = (post: (message: unknown) => void, value: number) =>
    new Promise<unknown>((resolve) => {
      const id = nextTask++;
      tasks.set(id, resolve);
      post([id, value]);
    });
  if (typeof globalThis.Worker === "function") {
    const worker = new Worker(ECHO_WORKER, { type: "module" });
    worker.addEventListener("message", (event) => onMessage(event.data));
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      onError(event.error ?? new Error(event.message));
    });
    return {
      roundTrip: (value) => pending(() => worker.postMessage(value)),
      task: (value) => task((message) => worker.postMessage(message), value),
      terminate: () => Promise.resolve(worker.terminate()),
    };
  }
  const threads = process.getBuiltinModule("node:worker_threads") as {
    Worker: new (url: URL) => NodeWorker;
  };
  const worker = new threads.Worker(ECHO_WORKER);
  worker.on("message", onMessage);
  worker.on("error", onError);
  return {
    roundTrip: (value) => pending(() => worker.postMessage(value)),
    task: (value) => task((message) => worker.postMessage(message), value),
    terminate: async () => {
      await worker.terminate();
    },
  };
}

async function spawnAndRun(value: number): Promise<number> {
  return await runInCacheScope(request, async () => {
    await using worker: EchoPool = spawnWorker<typeof tasks>(ECHO_TASKS);
    return await worker.run("echo", [value]);
  });
}

/** One benchmark: `count` operations (each awaited before the next, unless it says so). */
interface Case {
  readonly name: string;
  readonly count: number;
  run(count: number): Promise<void>;
}

/** The pool of the peer cases: as many threads as piscina's, and room for every task. */
function peerPool(): EchoPool {
  return createWorkerPool<typeof tasks>(ECHO_TASKS, { size: PEER_THREADS, maxQueue: Infinity });
}

function cases(bare: BareWorker, pool: EchoPool, peers?: [PiscinaPool, EchoPool]): Case[] {
  return [
    ...(peers === undefined ? [] : peerCases(...peers)),
    {
      name: BARE,
      count: roundTrips,
      async run(count) {
        for (let i = 0; i < count; i++) await bare.roundTrip(i);
      },
    },
    {
      name: FLOOR,
      count: roundTrips,
      async run(count) {
        for (let i = 0; i < count; i++) await bare.task(i);
      },
    },
    {
      name: FLOOR_SCOPE,
      count: roundTrips,
      async run(count) {
        for (let i = 0; i < count; i++) await runInCacheScope(request, () => bare.task(i));
      },
    },
    {
      name: IN_SCOPE,
      count: roundTrips,
      run: (count) =>
        runInCacheScope(request, async () => {
          for (let i = 0; i < count; i++) await pool.run("echo", [i]);
        }),
    },
    {
      name: SCOPE_PER_TASK,
      count: roundTrips,
      async run(count) {
        for (let i = 0; i < count; i++) {
          await runInCacheScope(request, () => pool.run("echo", [i]));
        }
      },
    },
    {
      name: NO_SCOPE,
      count: roundTrips,
      async run(count) {
        for (let i = 0; i < count; i++) await pool.run("echo", [i]);
      },
    },
    {
      name: SPAWN,
      count: spawns,
      async run(count) {
        for (let i = 0; i < count; i++) await spawnAndRun(i);
      },
    },
  ];
}

/** The worker benchmarks of issue 5, item 6. */
export const workersSection: Section = {
  title: "Workers (item 6, issue 23): a pool of one worker; two threads against piscina",

  async measure(rounds) {
    await this.smoke();
    const bare = startBareWorker();
    const pool: EchoPool = createWorkerPool<typeof tasks>(ECHO_TASKS, { size: 1 });
    const piscina = await startPiscina();
    const pool2 = typeof piscina === "string" ? undefined : peerPool();
    const all = cases(bare, pool, pool2 && [piscina as PiscinaPool, pool2]);
    const perRound = new Map<string, number[]>(all.map(({ name }) => [name, []]));
    const workerRounds = rounds * 2;
    try {
      for (const { run, count } of all) await run(Math.ceil(count / 4));
      for (let round = 0; round < workerRounds; round++) {
        for (const { name, run, count } of rotated(all, round)) {
          const start = performance.now();
          await run(count);
          perRound.get(name)!.push((performance.now() - start) * 1e6 / count);
        }
      }
    } finally {
      await pool[Symbol.asyncDispose]();
      await pool2?.[Symbol.asyncDispose]();
      if (typeof piscina !== "string") await piscina.destroy();
      await bare.terminate();
    }
    const sharedHits = await sharedHitsInWorker(rounds);
    const rows: Row[] = [...perRound].map(([name, samples]) => rowOf(name, samples));
    rows.push(...sharedHits.rows);
    const ratio = (of: string, over: string) => medianRatio(perRound.get(of)!, perRound.get(over)!);
    const checks: Check[] = [
      ratioCheck(`${IN_SCOPE} / ${BARE}`, ratio(IN_SCOPE, BARE), maxPoolOverhead),
      ratioCheck(`${SCOPE_PER_TASK} / ${BARE}`, ratio(SCOPE_PER_TASK, BARE), maxPoolOverhead),
      ratioCheck(`${NO_SCOPE} / ${BARE}`, ratio(NO_SCOPE, BARE), undefined),
      {
        ...ratioCheck(`${FLOOR} / ${BARE}`, ratio(FLOOR, BARE), undefined),
        detail: "out of the pool's reach",
      },
      {
        ...ratioCheck(`${FLOOR_SCOPE} / ${BARE}`, ratio(FLOOR_SCOPE, BARE), undefined),
        detail: "out of the pool's reach: the caller's own scope",
      },
      ratioCheck(`${IN_SCOPE} / ${FLOOR}`, ratio(IN_SCOPE, FLOOR), undefined),
      {
        ...ratioCheck(
          `${SCOPE_PER_TASK} / ${FLOOR_SCOPE}`,
          ratio(SCOPE_PER_TASK, FLOOR_SCOPE),
          undefined,
        ),
        detail: "the pool's own cost of carrying the scope in and its end",
      },
      {
        ...ratioCheck(`${SPAWN} / ${SCOPE_PER_TASK}`, ratio(SPAWN, SCOPE_PER_TASK), undefined),
        detail: `a warm pool saves ${
          ((median(perRound.get(SPAWN)!) - median(perRound.get(SCOPE_PER_TASK)!)) / 1e6)
            .toFixed(1)
        } ms per request`,
      },
      ...(typeof piscina === "string" ? [] : peerChecks(ratio)),
      ...sharedHits.checks,
    ];
    return {
      rows,
      checks,
      notes: [
        typeof piscina === "string"
          ? `piscina skipped: ${piscina}`
          : `against piscina: ${PEER_THREADS} threads each, the same echo task; ` +
            "in flight: ns/op is the time for all the tasks over their number.",
        `${workerRounds} interleaved rounds of ${roundTrips} round trips (${spawns} spawns) per case, ` +
        "each awaited before the next; ns/op: median over rounds of the mean per operation.",
      ],
    };
  },

  async smoke() {
    const bare = startBareWorker();
    const pool: EchoPool = createWorkerPool<typeof tasks>(ECHO_TASKS, { size: 1 });
    const piscina = await startPiscina();
    const pool2 = typeof piscina === "string" ? undefined : peerPool();
    try {
      assert.equal(await bare.roundTrip(7), 7);
      assert.equal(await bare.task(7), 7);
      for (const { name, run } of cases(bare, pool, pool2 && [piscina as PiscinaPool, pool2])) {
        await run(name === SPAWN ? 1 : 3);
      }
      const scopeInWorker = await runInCacheScope(request, async () => {
        assert.equal(await pool.run("echo", [7]), 7);
        return (await pool.stats()).scopes;
      });
      assert.equal(scopeInWorker, 1, "the pool did not carry the scope");
      assert.equal(await spawnAndRun(7), 7);
      await sharedHitsInWorker(0);
      // Every scope has ended, and the pool lets its worker forget them.
      assert.equal(currentScope(), undefined);
      for (let tries = 0; (await pool.stats()).workers[0].scopes > 0; tries++) {
        assert.ok(tries < 100, "the worker still holds a scope that ended");
        await delay(5);
      }
    } finally {
      await pool[Symbol.asyncDispose]();
      await pool2?.[Symbol.asyncDispose]();
      if (typeof piscina !== "string") await piscina.destroy();
      await bare.terminate();
    }
  },
};

/** Our pool over piscina: in a new scope per task against the target, outside any for scale. */
function peerChecks(ratio: (of: string, over: string) => number): Check[] {
  return [
    ratioCheck(
      `${OURS_SCOPED_IN_FLIGHT} / ${PISCINA_IN_FLIGHT}`,
      ratio(OURS_SCOPED_IN_FLIGHT, PISCINA_IN_FLIGHT),
      maxOverPiscina,
    ),
    ratioCheck(
      `${OURS_SCOPED_SEQUENTIAL} / ${PISCINA_SEQUENTIAL}`,
      ratio(OURS_SCOPED_SEQUENTIAL, PISCINA_SEQUENTIAL),
      maxOverPiscina,
    ),
    ratioCheck(
      `${OURS_IN_FLIGHT} / ${PISCINA_IN_FLIGHT}`,
      ratio(OURS_IN_FLIGHT, PISCINA_IN_FLIGHT),
      undefined,
    ),
    ratioCheck(
      `${OURS_SEQUENTIAL} / ${PISCINA_SEQUENTIAL}`,
      ratio(OURS_SEQUENTIAL, PISCINA_SEQUENTIAL),
      undefined,
    ),
    {
      ...ratioCheck(`${BARE} / ${PISCINA_SEQUENTIAL}`, ratio(BARE, PISCINA_SEQUENTIAL), undefined),
      detail: "the floor under one at a time: a worker woken through its event loop, " +
        "where piscina's idle worker blocks in Atomics.wait",
    },
  ];
}
