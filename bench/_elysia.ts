/**
 * Issue 26: what Elysia's `cacheScope()` plugin costs an Elysia app on a real `app.listen`
 * (`Bun.serve`), against the same app with no plugin, each making one call per request to the
 * same function (cached with the plugin, called as it is without). Measured as server CPU per
 * request, the method of the HTTP section (`_http.ts`): the process's `cpuUsage()` over a run
 * of autocannon load from a Node child process, divided by the requests the app answered, in
 * interleaved rounds, each ratio taken within a round. Also shown, for where the cost goes: the
 * least a request-scoped plugin can cost on Elysia (`enterWith` of a `Map` in `onRequest`, the
 * call memoized in it by hand), the same with a no-op `onAfterResponse` hook (the plugin ends
 * the scope there), the core's own scope opened and ended by hand in the same two hooks
 * (`openCacheScope` and dispose: what the core costs on Elysia, whatever the plugin does), and
 * the plugin with `waitForBody: false`.
 *
 * Elysia runs on Bun here (`app.listen` needs `Bun.serve`): on Deno and Node the section says
 * so and measures nothing.
 */
import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { Elysia } from "elysia";
import { currentScope, openCacheScope, perRequestCache } from "../mod.ts";
import { cacheScope } from "../elysia.ts";
import { isBun } from "../tests/server/_servers.ts";
import { LoadGenerator, loadOnce, maySpawnNode, serverLoad } from "./_http.ts";
import {
  type Check,
  median,
  ratioCheck,
  rotated,
  type Row,
  rowOf,
  type Section,
} from "./_section.ts";

const BARE = "bare Elysia, 1 uncached call";
const PLUGIN = "cacheScope() + 1 cached call";
const NO_WAIT = "cacheScope({ waitForBody: false }) + 1 cached call";
const FLOOR = "floor: enterWith(new Map()) in onRequest + 1 call memoized in it";
const FLOOR_AFTER = "floor + a no-op onAfterResponse hook";
const CORE_FLOOR =
  "floor: openCacheScope(request) in onRequest, disposed in onAfterResponse + 1 cached call";

/** Issue 26's target where the framework has no context plugin of its own: ≤ 1.15× bare. */
const maxRatio = 1.15;
const { seconds, warmUpSeconds, connections } = serverLoad;
const BODY = "Hello Elysia!";

let computed = 0;
function loadUser(id: number): { id: number } {
  computed++;
  return { id };
}
const getUser = perRequestCache(loadUser);

const mapAls = new AsyncLocalStorage<Map<number, { id: number }>>();
function getUserByHand(id: number): { id: number } {
  const map = mapAls.getStore()!;
  let user = map.get(id);
  if (user === undefined) map.set(id, user = loadUser(id));
  return user;
}

/** The part of an Elysia app that serving it takes. */
interface Listener {
  listen(options: { hostname: string; port: number }): unknown;
  readonly server: { readonly port?: number } | null;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** An app as the section serves it, counting the requests it answered. */
interface App {
  readonly name: string;
  readonly app: Listener;
  readonly served: () => number;
}

function helloApp(
  name: string,
  plugin: ((app: Elysia) => Elysia) | undefined,
  get: typeof loadUser,
): App {
  let served = 0;
  const base = new Elysia();
  const app = (plugin === undefined ? base : base.use(plugin)).get("/", () => {
    served++;
    get(1);
    return BODY;
  });
  return { name, app: app as unknown as Listener, served: () => served };
}

function apps(): App[] {
  return [
    helloApp(BARE, undefined, loadUser),
    helloApp(PLUGIN, cacheScope(), getUser),
    helloApp(NO_WAIT, cacheScope({ waitForBody: false }), getUser),
    helloApp(
      FLOOR,
      (app) =>
        app.onRequest(function enterMap() {
          mapAls.enterWith(new Map());
        }),
      getUserByHand,
    ),
    helloApp(
      CORE_FLOOR,
      (app) =>
        app.onRequest(function open({ request }) {
          openCacheScope(request);
        }).onAfterResponse({ as: "global" }, function dispose() {
          currentScope()?.[Symbol.dispose]();
        }),
      getUser,
    ),
    helloApp(
      FLOOR_AFTER,
      (app) =>
        app.onRequest(function enterMap() {
          mapAls.enterWith(new Map());
        }).onAfterResponse({ as: "global" }, function noop() {}),
      getUserByHand,
    ),
  ];
}

/** Serves each app with `app.listen` on 127.0.0.1 until disposed; the URL per app. */
function listen(list: readonly App[]): { urls: Map<string, string> } & AsyncDisposable {
  const urls = new Map<string, string>();
  for (const { name, app } of list) {
    app.listen({ hostname: "127.0.0.1", port: 0 });
    urls.set(name, `http://127.0.0.1:${app.server!.port}/`);
  }
  return {
    urls,
    async [Symbol.asyncDispose]() {
      for (const { app } of list) await app.stop(true);
    },
  };
}

/** Server CPU time (user + system) per request over one run of load, in ns. */
async function cpuPerRequest(load: LoadGenerator, app: App, url: string, runSeconds: number) {
  return (await loadOnce(load, url, () => app.served(), runSeconds)).cpuNs;
}

export const elysiaSection: Section = {
  title: "Elysia (issue 26): cacheScope() on app.listen (Bun.serve), server CPU per request",

  async measure(rounds) {
    if (!isBun) return { rows: [], checks: [], notes: ["Elysia runs on Bun only: skipped."] };
    await this.smoke();
    const list = apps();
    const runs = new Map<string, number[]>(list.map(({ name }) => [name, []]));
    const httpRounds = rounds * 2;
    {
      await using servers = listen(list);
      await using load = new LoadGenerator();
      for (const app of list) {
        await cpuPerRequest(load, app, servers.urls.get(app.name)!, warmUpSeconds);
      }
      for (let round = 0; round < httpRounds; round++) {
        for (const app of rotated(list, round)) {
          const url = servers.urls.get(app.name)!;
          runs.get(app.name)!.push(await cpuPerRequest(load, app, url, seconds));
        }
      }
    }
    const ratio = (of: string, over: string) =>
      median(runs.get(of)!.map((ns, round) => ns / runs.get(over)![round]));
    const rows: Row[] = list.map(({ name }) =>
      rowOf(`server CPU per request: ${name}`, runs.get(name)!)
    );
    const checks: Check[] = [
      ratioCheck(`server CPU: ${PLUGIN} / ${BARE}`, ratio(PLUGIN, BARE), maxRatio),
      ratioCheck(`server CPU: ${NO_WAIT} / ${BARE}`, ratio(NO_WAIT, BARE), undefined),
      {
        ...ratioCheck(`server CPU: ${FLOOR} / ${BARE}`, ratio(FLOOR, BARE), undefined),
        detail: "the least a plugin that gives each request a store costs on Elysia",
      },
      {
        ...ratioCheck(
          `server CPU: ${FLOOR_AFTER} / ${FLOOR}`,
          ratio(FLOOR_AFTER, FLOOR),
          undefined,
        ),
        detail: "what Elysia's onAfterResponse costs by itself (a task per request)",
      },
      {
        ...ratioCheck(`server CPU: ${CORE_FLOOR} / ${BARE}`, ratio(CORE_FLOOR, BARE), undefined),
        detail: "the least the core's own scope costs on Elysia: a floor of the target",
      },
      {
        ...ratioCheck(
          `server CPU: ${PLUGIN} / ${CORE_FLOOR}`,
          ratio(PLUGIN, CORE_FLOOR),
          undefined,
        ),
        detail: "what the plugin adds to that floor",
      },
    ];
    return {
      rows,
      checks,
      notes: [
        `${httpRounds} interleaved rounds of ${seconds} s per app (after ${warmUpSeconds} s of ` +
        `warm-up each), autocannon 9 from Node, ${connections} keep-alive connections, ` +
        "127.0.0.1. Server CPU per request: the server process's cpuUsage() (user + system, all " +
        "its threads) over a run, divided by the requests the app answered; ratios per round, " +
        "then the median.",
      ],
    };
  },

  async smoke() {
    if (!isBun) return;
    const list = apps();
    await using servers = listen(list);
    for (const app of list) {
      const before = computed;
      const url = servers.urls.get(app.name)!;
      for (let i = 0; i < 3; i++) assert.equal(await (await fetch(url)).text(), BODY, app.name);
      assert.equal(app.served(), 3, app.name);
      assert.equal(computed - before, 3, `${app.name}: one call per request, each a miss`);
    }
    assert.equal(currentScope(), undefined);
    if (maySpawnNode()) {
      await using load = new LoadGenerator();
      const [bare] = list;
      const result = await load.run({
        url: servers.urls.get(bare.name)!,
        connections: 2,
        amount: 20,
      });
      assert.equal(result.requests, 20);
    }
  },
};
