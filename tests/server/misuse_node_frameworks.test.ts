/**
 * Every misuse of the Express, Fastify and Koa `cacheScope()`, with the exact message it gets,
 * and a handler that throws: the framework answers the error, and the scope still ends.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import express from "express";
import Fastify from "fastify";
import Koa from "koa";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type CacheScope, currentScope } from "../../mod.ts";
import { cacheScope as expressScope } from "../../express.ts";
import { cacheScope as fastifyScope } from "../../fastify.ts";
import { cacheScope as koaScope } from "../../koa.ts";
import { frameworks } from "./_node_frameworks.ts";
import { eventually, quietErrors } from "./_servers.ts";
import { optionMisuses } from "./_option_misuses.ts";

const factories = [
  ["Express", "middleware", expressScope],
  ["Fastify", "plugin", fastifyScope],
  ["Koa", "middleware", koaScope],
] as const;

test("the three cacheScope() check their options by name and type when they are called", () => {
  for (const [name, unit, factory] of factories) {
    for (const [options, problem] of optionMisuses) {
      assert.throws(() => factory(options as Record<string, never>), {
        name: "TypeError",
        message: `Cannot create the ${name} cacheScope() ${unit}: ${problem}`,
      });
    }
    // Every documented option, and undefined for a default, is accepted.
    factory({ waitForBody: false, serverTiming: true });
    factory({ waitForBody: undefined });
    factory();
  }
});

/** Sends one request to `server` once it listens, checks its status, and closes the server. */
async function statusOfOneRequest(server: Server, status: number): Promise<void> {
  await new Promise((resolve) => server.once("listening", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, status);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

test("Express: app.use(cacheScope) without the call fails the request with the message", async () => {
  const errors: unknown[] = [];
  const app = express();
  app.use(expressScope as unknown as express.RequestHandler);
  app.use(
    ((error, _req, res, _next) => {
      errors.push(error);
      res.status(500).end();
    }) as express.ErrorRequestHandler,
  );
  await statusOfOneRequest(app.listen(0, "127.0.0.1"), 500);
  assert.equal((errors[0] as Error).name, "TypeError");
  assert.equal(
    (errors[0] as Error).message,
    "Cannot create the Express cacheScope() middleware: cacheScope takes the options, not what app.use gives a middleware, received 3 arguments starting with an object; give app.use the middleware cacheScope() returns, not cacheScope itself",
  );
});

test("Fastify: app.register(cacheScope) without the call fails the registration with the message", async () => {
  const app = Fastify();
  await assert.rejects(
    async () => await app.register(fastifyScope as unknown as ReturnType<typeof fastifyScope>),
    {
      name: "TypeError",
      message:
        "Cannot create the Fastify cacheScope() plugin: cacheScope takes the options, not what app.register gives a plugin, received 3 arguments starting with an object; give app.register the plugin cacheScope() returns, not cacheScope itself",
    },
  );
  await app.close().catch(() => {});
});

test("Koa: app.use(cacheScope) without the call fails the request with the message", async () => {
  const errors: unknown[] = [];
  const app = new Koa();
  app.silent = true;
  app.on("error", (error) => errors.push(error));
  app.use(koaScope as unknown as Koa.Middleware);
  await statusOfOneRequest(app.listen(0, "127.0.0.1"), 500);
  assert.equal((errors[0] as Error).name, "TypeError");
  assert.equal(
    (errors[0] as Error).message,
    "Cannot create the Koa cacheScope() middleware: cacheScope takes the options, not what app.use gives a middleware, received 2 arguments starting with an object; give app.use the middleware cacheScope() returns, not cacheScope itself",
  );
});

for (const framework of frameworks) {
  test(`${framework.name}: a handler that throws gets the framework's error answer, and its scope ends`, async () => {
    using _quiet = quietErrors();
    let scope: CacheScope | undefined;
    await using server = await framework.serve({
      json() {
        scope = currentScope();
        return Promise.reject(new RangeError("page out of range"));
      },
    });
    const response = await fetch(`${server.url}json`);
    await response.body?.cancel();
    assert.equal(response.status, 500);
    assert.ok(scope !== undefined);
    await eventually(() => scope!.disposed, "the scope ended", 20_000);
    assert.match(String(scope.signal.reason?.message), /ended: the response was sent$/);
  });
}
