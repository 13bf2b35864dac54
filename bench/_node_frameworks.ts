/**
 * Issue 26: what `cacheScope()` costs Express, Fastify and Koa on a real `node:http` server, with
 * one cached call per request, against the same app with no plugin (the call made uncached)
 * and against the framework's own request-context plugin (`express-http-context`,
 * `@fastify/request-context`) holding the request's memo by hand. Koa has no such plugin.
 *
 * Measured as `_http.ts` measures `Bun.serve`: interleaved rounds of a few seconds per app, load
 * from autocannon in a Node child process, and the server's CPU time per request (the process's
 * `cpuUsage()` over a run, divided by the requests it served), each ratio taken within a round.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import httpContext from "express-http-context";
import Fastify from "fastify";
import { fastifyRequestContext, requestContext } from "@fastify/request-context";
import Koa from "koa";
import { currentScope, perRequestCache } from "../mod.ts";
import { cacheScope as expressScope } from "../express.ts";
import { cacheScope as fastifyScope } from "../fastify.ts";
import { cacheScope as koaScope } from "../koa.ts";
import { LoadGenerator, loadOnce, maySpawnNode, serverLoad } from "./_http.ts";
import {
  type Check,
  medianRatio,
  ratioCheck,
  rotated,
  type Row,
  rowOf,
  type Section,
} from "./_section.ts";

const BODY = "Hello node:http!";
const { seconds, warmUpSeconds, connections } = serverLoad;

/** Issue 26's targets: at most the framework's context plugin, or 1.15× the bare framework. */
const maxOverPlugin = 1.0;
const maxOverBare = 1.15;

/** Real runs of the request's one call, and whether the last handler saw a scope. */
let computed = 0;
let sawScope = false;
const compute = (id: number) => {
  computed++;
  return { id };
};
const getUser = perRequestCache(compute);

/** The plugin's memo, by hand: the request's store holds the user once computed. */
function getUserFrom(get: () => unknown, set: (user: { id: number }) => void): { id: number } {
  let user = get() as { id: number } | undefined;
  if (user === undefined) set(user = compute(1));
  return user;
}

type Framework = "Express" | "Fastify" | "Koa";
type Plugin = "none" | "context plugin" | "cacheScope()";

interface App {
  readonly framework: Framework;
  readonly plugin: Plugin;
  readonly name: string;
  start(): Promise<Server & { close(): unknown }>;
}

async function listening(server: Server): Promise<Server> {
  if (!server.listening) await new Promise((resolve) => server.once("listening", resolve));
  return server;
}

function expressApp(plugin: Plugin): App["start"] {
  return () => {
    const app = express();
    if (plugin === "context plugin") app.use(httpContext.middleware);
    if (plugin === "cacheScope()") app.use(expressScope());
    const call = plugin === "none"
      ? () => compute(1)
      : plugin === "context plugin"
      ? () => getUserFrom(() => httpContext.get("user"), (user) => httpContext.set("user", user))
      : () => getUser(1);
    app.get("/", (_req, res) => {
      call();
      sawScope = currentScope() !== undefined;
      res.send(BODY);
    });
    return listening(app.listen(0, "127.0.0.1"));
  };
}

function fastifyApp(plugin: Plugin): App["start"] {
  return async () => {
    const app = Fastify();
    if (plugin === "context plugin") await app.register(fastifyRequestContext);
    if (plugin === "cacheScope()") await app.register(fastifyScope());
    const call = plugin === "none"
      ? () => compute(1)
      : plugin === "context plugin"
      ? () =>
        getUserFrom(
          () => requestContext.get("user" as never),
          (user) => requestContext.set("user" as never, user as never),
        )
      : () => getUser(1);
    app.get("/", () => {
      call();
      sawScope = currentScope() !== undefined;
      return BODY;
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    return app.server;
  };
}

function koaApp(plugin: Plugin): App["start"] {
  return () => {
    const app = new Koa();
    if (plugin === "cacheScope()") app.use(koaScope());
    const call = plugin === "none" ? () => compute(1) : () => getUser(1);
    app.use((ctx) => {
      call();
      sawScope = currentScope() !== undefined;
      ctx.body = BODY;
    });
    return listening(app.listen(0, "127.0.0.1"));
  };
}

const starts = { Express: expressApp, Fastify: fastifyApp, Koa: koaApp };
const apps: readonly App[] = (
  [
    ["Express", "none"],
    ["Express", "context plugin"],
    ["Express", "cacheScope()"],
    ["Fastify", "none"],
    ["Fastify", "context plugin"],
    ["Fastify", "cacheScope()"],
    ["Koa", "none"],
    ["Koa", "cacheScope()"],
  ] as const
).map(([framework, plugin]) => ({
  framework,
  plugin,
  name: `${framework}, ${
    plugin === "context plugin"
      ? framework === "Express" ? "express-http-context" : "@fastify/request-context"
      : plugin === "none"
      ? "no plugin"
      : "cacheScope()"
  }, 1 call`,
  start: starts[framework](plugin),
}));

/** A started app, counting the requests its server answered. */
interface Served extends AsyncDisposable {
  readonly app: App;
  readonly url: string;
  readonly served: number;
}

async function serve(app: App): Promise<Served> {
  const server = await app.start();
  let served = 0;
  server.on("request", () => served++);
  return {
    app,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    get served() {
      return served;
    },
    async [Symbol.asyncDispose]() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Server CPU time (user + system) per request served, in ns, over one run of load. */
async function cpuPerRequest(load: LoadGenerator, server: Served, runSeconds: number) {
  return (await loadOnce(load, server.url, () => server.served, runSeconds)).cpuNs;
}

const runtime = "Deno" in globalThis ? "Deno" : "Bun" in globalThis ? "Bun" : "Node";

/** The node:http frameworks' section of the suite. */
export const nodeFrameworksSection: Section = {
  title: `HTTP (issue 26): Express, Fastify and Koa with cacheScope() on ${runtime}'s node:http`,

  async measure(rounds) {
    await this.smoke();
    const httpRounds = rounds * 2;
    const cpu = new Map<string, number[]>(apps.map(({ name }) => [name, []]));
    const servers: Served[] = [];
    try {
      for (const app of apps) servers.push(await serve(app));
      await using load = new LoadGenerator();
      for (const server of servers) await cpuPerRequest(load, server, warmUpSeconds);
      for (let round = 0; round < httpRounds; round++) {
        for (const server of rotated(servers, round)) {
          cpu.get(server.app.name)!.push(await cpuPerRequest(load, server, seconds));
        }
      }
    } finally {
      for (const server of servers) await server[Symbol.asyncDispose]();
    }
    const of = (framework: Framework, plugin: Plugin) =>
      cpu.get(apps.find((app) => app.framework === framework && app.plugin === plugin)!.name)!;
    const checks: Check[] = [];
    for (const framework of ["Express", "Fastify"] as const) {
      const plugin = framework === "Express" ? "express-http-context" : "@fastify/request-context";
      checks.push(
        ratioCheck(
          `server CPU: ${framework} cacheScope() / ${plugin}`,
          medianRatio(of(framework, "cacheScope()"), of(framework, "context plugin")),
          maxOverPlugin,
        ),
        ratioCheck(
          `server CPU: ${framework} ${plugin} / no plugin`,
          medianRatio(of(framework, "context plugin"), of(framework, "none")),
          undefined,
        ),
        ratioCheck(
          `server CPU: ${framework} cacheScope() / no plugin`,
          medianRatio(of(framework, "cacheScope()"), of(framework, "none")),
          undefined,
        ),
      );
    }
    checks.push(
      ratioCheck(
        "server CPU: Koa cacheScope() / no plugin",
        medianRatio(of("Koa", "cacheScope()"), of("Koa", "none")),
        maxOverBare,
      ),
    );
    const rows: Row[] = apps.map(({ name }) =>
      rowOf(`server CPU per request: ${name}`, cpu.get(name)!)
    );
    return {
      rows,
      checks,
      notes: [
        `${httpRounds} interleaved rounds of ${seconds} s per app (after ${warmUpSeconds} s of warm-up each), ` +
        `autocannon 9 from Node, ${connections} keep-alive connections, 127.0.0.1.`,
        "Each app makes one call per request: uncached with no plugin, memoized by hand in the " +
        "plugin's store with a context plugin, a perRequestCache miss with cacheScope().",
      ],
    };
  },

  async smoke() {
    for (const app of apps) {
      await using server = await serve(app);
      const before = computed;
      for (let i = 0; i < 3; i++) {
        sawScope = false;
        const response = await fetch(server.url);
        assert.equal(await response.text(), BODY, app.name);
        assert.equal(sawScope, app.plugin === "cacheScope()", `${app.name}: a scope`);
      }
      assert.equal(computed - before, 3, `${app.name}: one real call per request`);
      assert.equal(server.served, 3);
      if (maySpawnNode() && app === apps.at(-1)) {
        await using load = new LoadGenerator();
        const result = await load.run({ url: server.url, connections: 2, amount: 20 });
        assert.equal(result.requests, 20);
      }
    }
    assert.equal(currentScope(), undefined);
  },
};
