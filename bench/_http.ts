/**
 * Issue 5, item 5: what `cacheScope()` costs a Hono hello-world app on this runtime's own
 * server (`Deno.serve`, `Bun.serve`, `@hono/node-server` on Node), against no middleware and a
 * bare `als.run` middleware (the least a request-scoped middleware can cost), with the body
 * waited for (the default) and not, and with a handler that makes 10 cached calls.
 *
 * Req/s on this shared 2-core machine move by ±15% between runs, so every app is measured in
 * interleaved rounds of a few seconds, each ratio is taken within a round, and the server's
 * CPU time per request (the process's `cpuUsage()` over a run, divided by the requests it
 * served) is reported next to req/s: it does not depend on how fast the load generator is or
 * on what else the machine does, and it is what req/s would follow if the server were the
 * bottleneck. The load comes from autocannon, run by Node in a child process
 * (`_load_generator.ts`) so that it does not share the server's event loop. The same apps are
 * also timed in process (`app.fetch` and reading the body, no sockets): the middleware's cost
 * with nothing around it.
 */
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { once } from "node:events";
import process from "node:process";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Hono, type MiddlewareHandler } from "hono";
import {
  type CacheScope,
  currentScope,
  perRequestCache,
  runInCacheScope,
  withCacheScope,
} from "../mod.ts";
import { cacheScope } from "../hono.ts";
import { isBun, isDeno, nativeFetchServer, serveFetch } from "../tests/server/_servers.ts";
import type { LoadJob, LoadResult } from "./_load_generator.ts";
import {
  type Check,
  median,
  ratioCheck,
  rotated,
  type Row,
  rowOf,
  type Section,
} from "./_section.ts";

const NONE = "no middleware";
const ALS_RUN = "als.run middleware (floor)";
const SCOPE = "cacheScope()";
const NO_WAIT = "cacheScope({ waitForBody: false })";
const TEN_CALLS = "cacheScope() + 10 cached calls";
// Issue 17: one cached call per request (every app below makes one), against the least the same
// app can cost by hand (a bare `als.run` and a `Map` of its own), as a Hono middleware and
// around `app.fetch`.
const MAP_FLOOR = "floor: als.run middleware + Map";
const ONE_CALL = "cacheScope() + 1 cached call";
const WRAP_FLOOR = "floor: als.run around app.fetch + Map";
const WRAP = "withCacheScope(app.fetch) + 1 cached call";
// The floor that blocks the target where the runtime has no other way (Bun, Node): the only
// public way to learn whether a body is a stream the handler built is the `body` getter, which
// makes a stream of a fixed body.
const BODY_FLOOR = "floor: als.run middleware + Map, reads c.res.body";
// The least a cache scope costs, whatever is done with the response: the core's own opening,
// cached call and end (`runInCacheScope`, which ends the scope when its function settles), as
// a Hono middleware and around `app.fetch`. Where these miss the target, the server path cannot
// meet it either: the rest is the core's (src/core/), not the server integration's.
const SCOPE_MW_FLOOR = "floor: runInCacheScope middleware + 1 cached call";
const SCOPE_WRAP_FLOOR = "floor: runInCacheScope around app.fetch + 1 cached call";
// Once read, every body is a stream, so it is tracked: the least a tracker can cost is a
// stream whose pull reads the body, in a new Response.
const TRACK_FLOOR = "floor: als.run middleware + Map, body through a bare pull stream";
const WRAP_TRACK_FLOOR = "floor: als.run around app.fetch + Map, body through a bare pull stream";

const BODY = "Hello Hono!";

/** Issue 5's target: the share of hello-world req/s that `cacheScope()` may cost. */
const maxCost = isDeno || isBun ? 0.03 : 0.05;
/** Issue 17's targets: in process, at most this many times the floor app's time... */
const maxInProcessRatio = 1.2;
/** ...and on a real `Bun.serve`, server CPU within this many percentage points of the floor's. */
const maxServerPoints = 0.05;

/**
 * How every server benchmark loads a server: `seconds` of load per app and round, after a
 * warm-up of `warmUpSeconds` per app, with enough `connections` to keep one core of server busy
 * (keep-alive, no pipelining).
 */
export const serverLoad = { seconds: 2, warmUpSeconds: 1, connections: 32 } as const;
const { seconds, warmUpSeconds, connections } = serverLoad;
/** Requests per app and round in process. */
const inProcessRequests = 5_000;

const NODE = fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url));
const LOAD_GENERATOR = fileURLToPath(new URL("./_load_generator.ts", import.meta.url));

const als = new AsyncLocalStorage<object>();
const mapAls = new AsyncLocalStorage<Map<number, { id: number }>>();

/** Runs 10 times per request of the last app: 5 keys, each asked twice (5 misses, 5 hits). */
let computed = 0;
const getUser = perRequestCache((id: number) => {
  computed++;
  return { id };
});

/** The scope the last `/probe` request ran in, to check what each middleware gives. */
let probed: { scope: CacheScope | undefined; als: object | undefined } | undefined;

/** The least a body tracker can do: a new Response whose stream reads the body as asked. */
function throughBarePullStream(response: Response): Response {
  const reader = response.body!.getReader();
  const body = new ReadableStream<Uint8Array>({
    pull: (controller) =>
      reader.read().then((chunk) =>
        chunk.done ? controller.close() : controller.enqueue(chunk.value)
      ),
  });
  return new Response(body, response);
}

/** The floor's cached call: the user from the request's own `Map`. */
function getUserByHand(id: number): { id: number } {
  const map = mapAls.getStore()!;
  let user = map.get(id);
  if (user === undefined) {
    computed++;
    map.set(id, user = { id });
  }
  return user;
}

function helloApp(
  middleware: MiddlewareHandler | undefined,
  cachedCalls: number,
  get: (id: number) => { id: number } = getUser,
): Hono {
  const app = new Hono();
  if (middleware !== undefined) app.use(middleware);
  app.get("/", (c) => {
    for (let i = 0; i < cachedCalls; i++) get(i % 5);
    return c.text(BODY);
  });
  // Only the smoke test asks for this one.
  app.get("/probe", (c) => {
    probed = { scope: currentScope(), als: als.getStore() };
    return c.text(BODY);
  });
  return app;
}

/** An app as the benchmarks call it: Hono's `fetch`, or a handler wrapped around it. */
interface App {
  readonly name: string;
  readonly fetch: (request: Request, env?: object) => Response | Promise<Response>;
  /** Whether it is also measured on the real server (the rest only in process). */
  readonly onServer: boolean;
}

function honoApp(name: string, app: Hono): App {
  return { name, fetch: (request, env) => app.fetch(request, env), onServer: true };
}

const bareApp = helloApp(undefined, 1, getUserByHand);
const cachedApp = helloApp(undefined, 1);

const apps: readonly App[] = [
  honoApp(NONE, helloApp(undefined, 0)),
  honoApp(ALS_RUN, helloApp((_c, next) => als.run({}, next), 0)),
  honoApp(SCOPE, helloApp(cacheScope(), 0)),
  honoApp(NO_WAIT, helloApp(cacheScope({ waitForBody: false }), 0)),
  honoApp(TEN_CALLS, helloApp(cacheScope(), 10)),
  honoApp(MAP_FLOOR, helloApp((_c, next) => mapAls.run(new Map(), next), 1, getUserByHand)),
  honoApp(ONE_CALL, helloApp(cacheScope(), 1)),
  {
    ...honoApp(
      BODY_FLOOR,
      helloApp(
        async (c, next) => {
          await mapAls.run(new Map(), next);
          void c.res.body;
        },
        1,
        getUserByHand,
      ),
    ),
    onServer: false,
  },
  honoApp(
    TRACK_FLOOR,
    helloApp(
      async (c, next) => {
        await mapAls.run(new Map(), next);
        const response = throughBarePullStream(c.res);
        c.res = undefined;
        c.res = response;
      },
      1,
      getUserByHand,
    ),
  ),
  honoApp(SCOPE_MW_FLOOR, helloApp((c, next) => runInCacheScope(c.req.raw, () => next()), 1)),
  {
    name: SCOPE_WRAP_FLOOR,
    fetch: (request, env) => runInCacheScope(request, () => cachedApp.fetch(request, env)),
    onServer: false,
  },
  {
    name: WRAP_FLOOR,
    fetch: (request, env) => mapAls.run(new Map(), () => bareApp.fetch(request, env)),
    onServer: false,
  },
  {
    name: WRAP_TRACK_FLOOR,
    fetch: (request, env) =>
      mapAls.run(new Map(), async () => throughBarePullStream(await bareApp.fetch(request, env))),
    onServer: false,
  },
  {
    name: WRAP,
    fetch: withCacheScope((request: Request, env?: object) => cachedApp.fetch(request, env)),
    onServer: false,
  },
];
const served = apps.filter((app) => app.onServer);

/** A served app, counting the requests it answered. */
interface Served extends AsyncDisposable {
  readonly name: string;
  readonly url: string;
  readonly served: number;
}

async function serve({ name, fetch }: App): Promise<Served> {
  let served = 0;
  // The server's second argument goes on to Hono as `c.env`, as with `Deno.serve(app.fetch)`:
  // it carries the completion signal that cacheScope() ends the scope on (Deno's info.completed,
  // @hono/node-server's outgoing response).
  const server = await serveFetch(nativeFetchServer, (request, env) => {
    served++;
    return fetch(request, env as object | undefined);
  });
  return {
    name,
    url: server.url,
    get served() {
      return served;
    },
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

/** Whether this process may start the load generator (Deno needs `--allow-run` for it). */
export function maySpawnNode(): boolean {
  return !isDeno || Deno.permissions.querySync({ name: "run", command: NODE }).state === "granted";
}

/** The load generator's process, one job at a time. */
export class LoadGenerator implements AsyncDisposable {
  #child: ChildProcessByStdio<Writable, Readable, null>;
  #results: AsyncIterator<string>;

  constructor() {
    // An environment of its own: it needs none, and Deno would ask for `--allow-env` to copy ours.
    this.#child = spawn(NODE, [LOAD_GENERATOR], { stdio: ["pipe", "pipe", "inherit"], env: {} });
    this.#results = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  async run(job: LoadJob): Promise<LoadResult> {
    this.#child.stdin.write(`${JSON.stringify(job)}\n`);
    const line = await this.#results.next();
    if (line.done) {
      throw new Error(
        `Cannot measure ${job.url}: the load generator exited (${this.#child.exitCode})`,
      );
    }
    const result: LoadResult = JSON.parse(line.value);
    // A run with failed requests measured something else than the app.
    if (result.errors > 0 || result.non2xx > 0 || result.requests === 0) {
      throw new Error(`Cannot measure ${job.url}: ${JSON.stringify(result)}`);
    }
    return result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = once(this.#child, "exit");
    this.#child.stdin.end();
    await exited;
  }
}

/** One run of load against one server: what the client saw, and what the server spent. */
export interface Run {
  readonly rps: number;
  /** Server process CPU time (user + system) per request served, in ns. */
  readonly cpuNs: number;
}

/**
 * Loads a server of this process at `url` for `runSeconds`; `served()` counts the requests it
 * has served, so the CPU time is divided by what the server did, not by what the client saw.
 */
export async function loadOnce(
  load: LoadGenerator,
  url: string,
  served: () => number,
  runSeconds: number,
): Promise<Run> {
  const before = served();
  const cpu = process.cpuUsage();
  const { rps } = await load.run({ url, connections, seconds: runSeconds });
  const used = process.cpuUsage(cpu);
  return { rps, cpuNs: (used.user + used.system) * 1_000 / (served() - before) };
}

function loadOnceAt(load: LoadGenerator, server: Served, runSeconds: number): Promise<Run> {
  return loadOnce(load, server.url, () => server.served, runSeconds);
}

async function inProcessOnce(app: App): Promise<void> {
  const response = await app.fetch(new Request("http://localhost/"));
  await response.text();
}

function percent(fraction: number): string {
  return `${fraction < 0 ? "−" : ""}${Math.abs(fraction * 100).toFixed(1)}%`;
}

/**
 * A cost (a share of req/s lost) against "at most `max`": PASS with the margin left, or MISS
 * by how many percentage points.
 */
function costCheck(name: string, cost: number, max: number | undefined): Check {
  if (max === undefined) {
    return { name, value: percent(cost), target: "—", pass: undefined, detail: "" };
  }
  const points = Math.abs(cost - max) * 100;
  const pass = cost <= max;
  return {
    name,
    value: percent(cost),
    target: `≤ ${percent(max)}`,
    pass,
    detail: `${points.toFixed(1)} points ${pass ? "under" : "over"}`,
  };
}

/** A difference of two costs, in percentage points, against "at most `max`". */
function pointsCheck(name: string, points: number, max: number | undefined): Check {
  const value = `${points < 0 ? "−" : "+"}${Math.abs(points * 100).toFixed(1)} points`;
  if (max === undefined) return { name, value, target: "—", pass: undefined, detail: "" };
  const pass = points <= max;
  const margin = Math.abs(max - points) * 100;
  return {
    name,
    value,
    target: `≤ +${(max * 100).toFixed(0)} points`,
    pass,
    detail: `${margin.toFixed(1)} points ${pass ? "under" : "over"}`,
  };
}

/** The HTTP benchmarks of issue 5, item 5. */
export const httpSection: Section = {
  title: `HTTP (item 5): Hono hello world on ${nativeFetchServer}`,

  async measure(rounds) {
    await this.smoke();
    // More rounds than the micro-benchmarks take: a round here is a few seconds, not a few
    // hundred milliseconds, and req/s are noisier than ns/op.
    const httpRounds = rounds * 2;
    const inProcess = new Map<string, number[]>(apps.map(({ name }) => [name, []]));
    for (let round = 0; round < httpRounds; round++) {
      for (const app of rotated(apps, round)) {
        const start = performance.now();
        for (let i = 0; i < inProcessRequests; i++) await inProcessOnce(app);
        inProcess.get(app.name)!.push((performance.now() - start) * 1e6 / inProcessRequests);
      }
    }

    // @hono/node-server replaces the global Request and Response on Node (as users have it),
    // so the servers start after the in-process rounds.
    const servers: Served[] = [];
    const runs = new Map<string, Run[]>(served.map(({ name }) => [name, []]));
    try {
      for (const app of served) servers.push(await serve(app));
      await using load = new LoadGenerator();
      for (const server of servers) await loadOnceAt(load, server, warmUpSeconds);
      for (let round = 0; round < httpRounds; round++) {
        for (const server of rotated(servers, round)) {
          runs.get(server.name)!.push(await loadOnceAt(load, server, seconds));
        }
      }
    } finally {
      for (const server of servers) await server[Symbol.asyncDispose]();
    }

    const rps = (name: string) => runs.get(name)!.map((run) => run.rps);
    const cpu = (name: string) => runs.get(name)!.map((run) => run.cpuNs);
    // Both costs are shares of req/s lost, each taken within a round, then the median over
    // rounds. By req/s: 1 - rps(app) / rps(base). By CPU: 1 - cpu(base) / cpu(app), the req/s
    // a server bound by its CPU would lose.
    const rpsCost = (of: string, over: string) =>
      median(rps(of).map((value, round) => 1 - value / rps(over)[round]));
    const cpuCost = (of: string, over: string) =>
      median(cpu(of).map((value, round) => 1 - cpu(over)[round] / value));
    const inProcessCost = (of: string, over: string) =>
      median(inProcess.get(of)!.map((value, round) => 1 - inProcess.get(over)![round] / value));

    const inProcessCheck = (of: string, over: string, max?: number) =>
      ratioCheck(
        `in process: ${of} / ${over}`,
        median(inProcess.get(of)!.map((value, round) => value / inProcess.get(over)![round])),
        max,
      );
    const rows: Row[] = [
      ...served.map(({ name }) => rowOf(`server CPU per request: ${name}`, cpu(name))),
      ...apps.map(({ name }) =>
        rowOf(`in process (app.fetch + body): ${name}`, inProcess.get(name)!)
      ),
    ];
    const floor = `a floor of the in-process target (${maxInProcessRatio}×)`;
    const checks: Check[] = [
      inProcessCheck(ONE_CALL, MAP_FLOOR, maxInProcessRatio),
      inProcessCheck(WRAP, WRAP_FLOOR, maxInProcessRatio),
      {
        ...inProcessCheck(SCOPE_MW_FLOOR, MAP_FLOOR),
        detail: `${floor}: the core's scope and cached call, nothing done with the response`,
      },
      {
        ...inProcessCheck(ONE_CALL, SCOPE_MW_FLOOR),
        detail: "what cacheScope() adds to that: the response's handling",
      },
      {
        ...inProcessCheck(SCOPE_WRAP_FLOOR, WRAP_FLOOR),
        detail: `${floor}: the core's scope and cached call, nothing done with the response`,
      },
      {
        ...inProcessCheck(WRAP, SCOPE_WRAP_FLOOR),
        detail: "what withCacheScope adds to that: the response's handling",
      },
      {
        ...inProcessCheck(BODY_FLOOR, MAP_FLOOR),
        detail: isDeno || isBun
          ? "not a floor here: this runtime tells a fixed body apart without the getter"
          : "not a floor on Node: the getter returns the stream the body was made into already",
      },
      // Where every body is tracked (Node), the bare tracker bounds each in-process target.
      ...[[ONE_CALL, TRACK_FLOOR, MAP_FLOOR], [WRAP, WRAP_TRACK_FLOOR, WRAP_FLOOR]].flatMap((
        [app, tracker, base],
      ): Check[] => [
        {
          ...inProcessCheck(tracker, base),
          detail: isDeno || isBun
            ? "not a floor here: only a body that may be a stream is tracked"
            : `${floor} on Node: nothing tells a fixed body from a stream, so every body is tracked`,
        },
        {
          ...inProcessCheck(app, tracker),
          detail: isDeno || isBun
            ? "not a floor here: a fixed body is passed through, not tracked"
            : `what ${app} adds to that bare tracker: the core's scope and cached call`,
        },
      ]),
      pointsCheck(
        `server CPU: ${TRACK_FLOOR} vs ${MAP_FLOOR}, points lost vs ${NONE}`,
        cpuCost(TRACK_FLOOR, NONE) - cpuCost(MAP_FLOOR, NONE),
        undefined,
      ),
      pointsCheck(
        `server CPU: ${ONE_CALL} vs ${MAP_FLOOR}, points lost vs ${NONE}`,
        cpuCost(ONE_CALL, NONE) - cpuCost(MAP_FLOOR, NONE),
        isBun ? maxServerPoints : undefined,
      ),
      {
        ...pointsCheck(
          `server CPU: ${SCOPE_MW_FLOOR} vs ${MAP_FLOOR}, points lost vs ${NONE}`,
          cpuCost(SCOPE_MW_FLOOR, NONE) - cpuCost(MAP_FLOOR, NONE),
          undefined,
        ),
        detail: `a floor of the server target${
          isBun ? "" : " (Bun's)"
        }: the core's scope and cached call`,
      },
      {
        ...pointsCheck(
          `server CPU: ${ONE_CALL} vs ${SCOPE_MW_FLOOR}, points lost vs ${NONE}`,
          cpuCost(ONE_CALL, NONE) - cpuCost(SCOPE_MW_FLOOR, NONE),
          undefined,
        ),
        detail: "what cacheScope() adds to that: the response's handling",
      },
      ...served.map(({ name }): Check => {
        const samples = rps(name);
        return {
          name: `req/s: ${name}`,
          value: median(samples).toFixed(0),
          target: "—",
          pass: undefined,
          detail: `${Math.min(...samples).toFixed(0)}–${Math.max(...samples).toFixed(0)}`,
        };
      }),
      costCheck(`${SCOPE}: req/s lost vs ${NONE}`, rpsCost(SCOPE, NONE), maxCost),
      costCheck(`${SCOPE}: by server CPU, lost vs ${NONE}`, cpuCost(SCOPE, NONE), maxCost),
      costCheck(`${ALS_RUN}: by server CPU, lost vs ${NONE}`, cpuCost(ALS_RUN, NONE), undefined),
      costCheck(`${SCOPE}: by server CPU, lost vs ${ALS_RUN}`, cpuCost(SCOPE, ALS_RUN), undefined),
      costCheck(`${NO_WAIT}: by server CPU, lost vs ${NONE}`, cpuCost(NO_WAIT, NONE), undefined),
      costCheck(
        `${TEN_CALLS}: by server CPU, lost vs ${NONE}`,
        cpuCost(TEN_CALLS, NONE),
        undefined,
      ),
      costCheck(`${SCOPE}: in process, lost vs ${NONE}`, inProcessCost(SCOPE, NONE), undefined),
      costCheck(
        `${SCOPE}: in process, lost vs ${ALS_RUN}`,
        inProcessCost(SCOPE, ALS_RUN),
        undefined,
      ),
      costCheck(`${NO_WAIT}: in process, lost vs ${NONE}`, inProcessCost(NO_WAIT, NONE), undefined),
    ];
    return {
      rows,
      checks,
      notes: [
        `${httpRounds} interleaved rounds of ${seconds} s per app (after ${warmUpSeconds} s of warm-up each), ` +
        `autocannon 9 from Node, ${connections} keep-alive connections, 127.0.0.1; in process: ` +
        `${inProcessRequests} requests per app and round.`,
        "req/s: median over rounds (min–max). Server CPU per request: the server process's " +
        "cpuUsage() (user + system, all its threads) over a run, divided by the requests it served.",
        "Cost = share of req/s lost, median of per-round values: by req/s, 1 − rps(app) / rps(base); " +
        "by server CPU, 1 − cpu(base) / cpu(app), what req/s lose when the server is the bottleneck. " +
        "The load generator shares the 2 cores, so req/s also move with its speed; the CPU figure does not.",
      ],
    };
  },

  async smoke() {
    // In process: each app answers, and its handler runs in the context its middleware gives.
    for (const app of apps) {
      const { name } = app;
      const before = computed;
      for (let i = 0; i < 3; i++) {
        const response = await app.fetch(new Request("http://localhost/"));
        assert.equal(await response.text(), BODY, name);
      }
      const oneCall = [
        MAP_FLOOR,
        ONE_CALL,
        WRAP_FLOOR,
        WRAP,
        BODY_FLOOR,
        TRACK_FLOOR,
        WRAP_TRACK_FLOOR,
        SCOPE_MW_FLOOR,
        SCOPE_WRAP_FLOOR,
      ].includes(name);
      const calls = name === TEN_CALLS ? 15 : oneCall ? 3 : 0;
      assert.equal(computed - before, calls, `${name}: cached calls`);
      if (!app.onServer) continue;
      probed = undefined;
      assert.equal(await (await app.fetch(new Request("http://localhost/probe"))).text(), BODY);
      const scoped = [SCOPE, NO_WAIT, TEN_CALLS, ONE_CALL, SCOPE_MW_FLOOR].includes(name);
      assert.equal(probed!.scope !== undefined, scoped, `${name}: a scope in the handler`);
      assert.equal(probed!.als !== undefined, name === ALS_RUN, `${name}: als.run's store`);
      // Read to its end, the body has ended the scope, whichever way it waited.
      if (scoped) assert.ok(probed!.scope!.disposed, `${name}: the scope outlived its body`);
    }
    assert.equal(currentScope(), undefined);

    // On the real server, and through the load generator where this process may start it.
    const servers: Served[] = [];
    try {
      for (const app of served) servers.push(await serve(app));
      for (const server of servers) {
        for (let i = 0; i < 3; i++) {
          const response = await fetch(server.url);
          assert.equal(response.status, 200);
          assert.equal(await response.text(), BODY, server.name);
        }
        assert.equal(server.served, 3);
      }
      if (maySpawnNode()) {
        await using load = new LoadGenerator();
        const server = servers[servers.length - 1];
        const result = await load.run({ url: server.url, connections: 2, amount: 20 });
        assert.equal(result.requests, 20);
        assert.equal(server.served, 23);
      }
    } finally {
      for (const server of servers) await server[Symbol.asyncDispose]();
    }
  },
};
