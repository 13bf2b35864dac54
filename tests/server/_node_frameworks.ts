/**
 * Express, Fastify and Koa apps with `cacheScope()`, on a real server on 127.0.0.1 and an
 * ephemeral port, behind one shape so that each test runs the same scenario on the three:
 * a route that answers JSON from an async handler, and a route whose body is produced over
 * time after the handler returned (Express `res.write`, Fastify `reply.send(readable)`, Koa
 * `ctx.body = readable`). Each app is `AsyncDisposable`, its open connections included.
 */
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import express from "express";
import Fastify from "fastify";
import Koa from "koa";
import type { CacheScopeOptions } from "../../express.ts";
import { cacheScope as expressScope } from "../../express.ts";
import { cacheScope as fastifyScope } from "../../fastify.ts";
import { cacheScope as koaScope } from "../../koa.ts";
import type { Listening } from "./_servers.ts";

/** What a handler is given: the framework's request object and the request's URL and body. */
export interface Exchange {
  /** Express `req`, Fastify `request`, Koa `ctx.request`: what `scope.request` must be. */
  readonly request: object;
  readonly url: string;
  /** The parsed JSON body of a POST, if any. */
  readonly body: unknown;
}

/** How a test's app answers. */
export interface Routes {
  /** `GET|POST /json…`: the value is sent as JSON. */
  json?(exchange: Exchange): Promise<unknown>;
  /** `GET /stream…`: the chunks are sent as they come, after the handler returned. */
  stream?(exchange: Exchange): AsyncIterable<string>;
}

/** One framework: its name, and how to serve routes behind its `cacheScope()`. */
export interface Framework {
  readonly name: "Express" | "Fastify" | "Koa";
  serve(routes: Routes, options?: CacheScopeOptions): Promise<Listening>;
}

async function listening(
  server: ReturnType<ReturnType<typeof express>["listen"]>,
): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.once("listening", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    async [Symbol.asyncDispose]() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

const expressFramework: Framework = {
  name: "Express",
  serve(routes, options) {
    const app = express();
    app.use(expressScope(options));
    app.use(express.json());
    app.use(async (req, res) => {
      const exchange = { request: req, url: req.url, body: req.body };
      if (req.path.startsWith("/stream") && routes.stream) {
        res.setHeader("content-type", "text/plain");
        for await (const chunk of routes.stream(exchange)) res.write(chunk);
        res.end();
      } else {
        res.json(await routes.json!(exchange));
      }
    });
    return listening(app.listen(0, "127.0.0.1"));
  },
};

const fastifyFramework: Framework = {
  name: "Fastify",
  async serve(routes, options) {
    const app = Fastify();
    await app.register(fastifyScope(options));
    app.all("/*", async (request, reply) => {
      const exchange = { request, url: request.url, body: request.body };
      if (request.url.startsWith("/stream") && routes.stream) {
        return reply.type("text/plain").send(Readable.from(routes.stream(exchange)));
      }
      return await routes.json!(exchange);
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/`,
      async [Symbol.asyncDispose]() {
        app.server.closeAllConnections();
        await app.close();
      },
    };
  },
};

const koaFramework: Framework = {
  name: "Koa",
  serve(routes, options) {
    const app = new Koa();
    app.use(koaScope(options));
    app.use(async (ctx) => {
      const body = ctx.method === "POST" ? JSON.parse(await text(ctx.req)) : undefined;
      const exchange = { request: ctx.request, url: ctx.url, body };
      if (ctx.path.startsWith("/stream") && routes.stream) {
        ctx.type = "text/plain";
        ctx.body = Readable.from(routes.stream(exchange));
      } else {
        ctx.body = await routes.json!(exchange);
      }
    });
    return listening(app.listen(0, "127.0.0.1"));
  },
};

async function text(stream: AsyncIterable<Uint8Array | string>): Promise<string> {
  let all = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    all += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
  }
  return all + decoder.decode();
}

/** The three frameworks, each on every runtime: they all run on `node:http`. */
export const frameworks: readonly Framework[] = [expressFramework, fastifyFramework, koaFramework];
