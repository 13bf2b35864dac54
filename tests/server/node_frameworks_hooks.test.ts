/**
 * Where the scope of Express, Fastify and Koa's `cacheScope()` reaches: every middleware and
 * hook registered after it, body parsers included (`express.json()`, Fastify's own parser,
 * whose body arrives in the socket's context), up to the handler, with the same scope
 * everywhere and the framework's request as `scope.request`; and, for Fastify, every route of
 * the instance it is registered on, whatever the encapsulation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import express from "express";
import Fastify from "fastify";
import Koa from "koa";
import type { AddressInfo } from "node:net";
import { type CacheScope, currentScope } from "../../mod.ts";
import { cacheScope as expressScope } from "../../express.ts";
import { cacheScope as fastifyScope } from "../../fastify.ts";
import { cacheScope as koaScope } from "../../koa.ts";
import { frameworks } from "./_node_frameworks.ts";

/** Where each step ran: the scope it saw. */
type Trail = [string, CacheScope | undefined][];

async function post(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  assert.equal(response.status, 200);
  return await response.json();
}

for (const framework of frameworks) {
  test(`${framework.name}: a JSON body is parsed inside the scope, and the handler sees the framework's request as scope.request`, async () => {
    const seen: [CacheScope | undefined, object][] = [];
    await using server = await framework.serve({
      json({ request, body }) {
        seen.push([currentScope(), request]);
        return Promise.resolve(body);
      },
    });
    assert.deepEqual(await post(`${server.url}json`, { big: "x".repeat(90_000) }), {
      big: "x".repeat(90_000),
    });
    const [[scope, request]] = seen;
    assert.ok(scope !== undefined, "no scope in the handler");
    assert.equal(scope.request, request);
  });
}

test("Express: express.json() and every later middleware run in the one scope of the request", async () => {
  const trail: Trail = [];
  const app = express();
  app.use(expressScope());
  app.use((_req, _res, next) => void (trail.push(["before json", currentScope()]), next()));
  app.use(express.json());
  app.use((_req, _res, next) => void (trail.push(["after json", currentScope()]), next()));
  app.post("/", (req, res) => {
    trail.push(["handler", currentScope()]);
    assert.equal(currentScope()?.request, req);
    res.json(req.body);
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    assert.deepEqual(await post(`http://127.0.0.1:${port}/`, { a: 1 }), { a: 1 });
  } finally {
    server.closeAllConnections();
    server.close();
  }
  assertOneScope(trail, ["before json", "after json", "handler"]);
});

test("Fastify: every later hook and the handler run in the one scope, on routes of child contexts too", async () => {
  const trail: Trail = [];
  const app = Fastify();
  const step = (name: string) => () => void trail.push([name, currentScope()]);
  // Registered before the plugin's routes and contexts: the plugin applies to all of them.
  await app.register(fastifyScope());
  app.addHook("onRequest", async () => step("onRequest")());
  app.addHook("preParsing", async () => step("preParsing")());
  app.addHook("preValidation", async () => step("preValidation")());
  await app.register(async (child) => {
    child.addHook("preHandler", async () => step("preHandler")());
    child.addHook("preSerialization", async (_request, _reply, payload) => {
      step("preSerialization")();
      return payload;
    });
    child.post("/child", async (request) => {
      step("handler")();
      assert.equal(currentScope()?.request, request);
      return request.body;
    });
  });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  try {
    assert.deepEqual(await post(`${url}/child`, { a: 1 }), { a: 1 });
  } finally {
    await app.close();
  }
  assertOneScope(trail, [
    "onRequest",
    "preParsing",
    "preValidation",
    "preHandler",
    "handler",
    "preSerialization",
  ]);
});

test("Fastify: the plugin applies to every route of its instance, declared before it or in a child context", async () => {
  const app = Fastify();
  const scoped = async () => ({ scoped: currentScope() !== undefined });
  app.get("/before", scoped);
  app.register(async (child) => void child.get("/child-before", scoped));
  await app.register(fastifyScope());
  app.get("/after", scoped);
  app.register(async (child) => void child.get("/child-after", scoped));
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  try {
    for (const path of ["/before", "/child-before", "/after", "/child-after"]) {
      assert.deepEqual(await (await fetch(`${url}${path}`)).json(), { scoped: true }, path);
    }
  } finally {
    await app.close();
  }
});

for (const waitForBody of [true, false]) {
  test(`Fastify (waitForBody: ${waitForBody}): an onRequest hook registered before the plugin answers 401 with its body`, async () => {
    const app = Fastify();
    app.addHook("onRequest", async (_request, reply) => {
      await reply.code(401).send({ error: "unauthorized" });
    });
    await app.register(fastifyScope({ waitForBody }));
    app.get("/", async () => ({ scoped: currentScope() !== undefined }));
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const response = await fetch(url);
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), { error: "unauthorized" });
    } finally {
      await app.close();
    }
  });
}

test("Koa: every later middleware runs in the one scope, before and after its next()", async () => {
  const trail: Trail = [];
  const app = new Koa();
  app.use(koaScope());
  app.use(async (_ctx, next) => {
    trail.push(["outer, before", currentScope()]);
    await next();
    trail.push(["outer, after", currentScope()]);
  });
  app.use(async (ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    trail.push(["handler", currentScope()]);
    assert.equal(currentScope()?.request, ctx.request);
    ctx.body = { a: 1 };
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/`)).json(), { a: 1 });
  } finally {
    server.closeAllConnections();
    server.close();
  }
  assertOneScope(trail, ["outer, before", "handler", "outer, after"]);
});

function assertOneScope(trail: Trail, steps: string[]): void {
  assert.deepEqual(trail.map(([step]) => step), steps);
  const scope = trail[0][1];
  assert.ok(scope !== undefined, `no scope in ${steps[0]}`);
  for (const [step, seen] of trail) assert.equal(seen, scope, `${step} saw another scope`);
}
