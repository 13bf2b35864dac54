/**
 * Isolation of plain handlers on real servers: 2,000 requests, 100 in flight each. A
 * `Deno.serve` handler wrapped in `withCacheScope` that also opens `using scope =
 * openCacheScope(request)` (it joins the wrapper's scope), a `Bun.serve` handler with only
 * `using`, `withCacheScope` on the runtime's own fetch server, and a `node:http` listener wrapped
 * in `withListenerCacheScope` (every runtime). See `_isolation_workload.ts` for what each request
 * does and how a leak would show.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { currentScope, openCacheScope, withCacheScope, withListenerCacheScope } from "../../mod.ts";
import {
  assertIsolated,
  isolationWorkload,
  leakyMemoize,
  LOAD_TIME_LIMIT,
  seqOf,
  tokenOf,
  type Workload,
} from "./_isolation_workload.ts";
import {
  isBun,
  isDeno,
  type Listening,
  listenNodeHttp,
  nativeFetchServer,
  serveFetch,
} from "./_servers.ts";

/** A fetch handler that opens the request's scope with `using` and runs the workload in it. */
function usingHandler(work: Workload["work"]): (request: Request) => Promise<Response> {
  return async (request) => {
    const outer = currentScope()?.id ?? null;
    const report = await (async () => {
      using scope = openCacheScope(request);
      // Under withCacheScope this joins the wrapper's scope; with nothing around it, it is new.
      if (outer !== null && scope.id !== outer) {
        throw new Error(`opened ${scope.id} inside ${outer} for the same request`);
      }
      return await work(tokenOf(request), seqOf(request.url));
    })();
    // With a wrapper the scope outlives the `using` block (the wrapper holds it until the body
    // is sent); without one, disposing it leaves no scope behind.
    const after = currentScope()?.id ?? null;
    if (after !== outer) report.reads.push(`<after the block: ${after}, not ${outer}>`);
    return Response.json(report);
  };
}

/** A `node:http` listener wrapped in withListenerCacheScope; half the requests also join. */
function wrappedListener(
  work: Workload["work"],
): (request: IncomingMessage, response: ServerResponse) => void {
  return withListenerCacheScope(async (request: IncomingMessage, response: ServerResponse) => {
    const seq = seqOf(request.url ?? "");
    try {
      using joined = seq % 2 === 0 ? openCacheScope(request) : undefined;
      const report = await work(tokenOf(request), seq);
      if (joined !== undefined && joined.id !== report.scopeId) {
        report.reads.push(`<joined ${joined.id}, not ${report.scopeId}>`);
      }
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(report));
    } catch (error) {
      response.writeHead(500).end(String(error instanceof Error ? error.stack : error));
    }
  });
}

(isDeno ? test : test.skip)(
  "Deno.serve with withCacheScope and `using` inside: 2,000 requests, 100 in flight, isolated",
  LOAD_TIME_LIMIT,
  async () => {
    const { work, load } = isolationWorkload();
    await using server = await serveFetch("Deno.serve", withCacheScope(usingHandler(work)));
    assertIsolated(await load(server.url));
  },
);

(isBun ? test : test.skip)(
  "Bun.serve with only `using openCacheScope(request)`: 2,000 requests, 100 in flight, isolated",
  LOAD_TIME_LIMIT,
  async () => {
    const { work, load } = isolationWorkload();
    await using server = await serveFetch("Bun.serve", usingHandler(work));
    assertIsolated(await load(server.url));
  },
);

(isDeno ? test.skip : test)(
  `withCacheScope on ${nativeFetchServer}: 2,000 requests, 100 in flight, isolated`,
  LOAD_TIME_LIMIT,
  async () => {
    const { work, load } = isolationWorkload();
    const handler = withCacheScope(async (request: Request) =>
      Response.json(await work(tokenOf(request), seqOf(request.url)))
    );
    await using server = await serveFetch(nativeFetchServer, handler);
    assertIsolated(await load(server.url));
  },
);

test(
  "node:http with withListenerCacheScope: 2,000 requests, 100 in flight, isolated",
  LOAD_TIME_LIMIT,
  async () => {
    const { work, load } = isolationWorkload();
    await using server: Listening = await listenNodeHttp(wrappedListener(work));
    assertIsolated(await load(server.url));
  },
);

test("the checks catch a cache that leaks entries between node:http requests", async () => {
  // The same listener, server and checks, with a process-wide memo in place of perRequestCache.
  const { work, load } = isolationWorkload(leakyMemoize);
  await using server = await listenNodeHttp(wrappedListener(work));
  const { problems } = await load(server.url, { total: 200, concurrency: 20 });
  assert.ok(problems.some((problem) => problem.startsWith("cross-request read")), problems[0]);
  assert.ok(problems.some((problem) => problem.includes("not each of its calls exactly once")));
});

/** The part of `Bun` the WebSocket test uses. */
interface BunWebSocketServe {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: { upgrade(request: Request): boolean }): unknown;
    websocket: { open(ws: { send(data: string): void }): void; message(): void };
    error(error: unknown): Response;
  }): { readonly port: number; stop(closeActiveConnections?: boolean): Promise<void> };
}

(isBun ? test : test.skip)(
  "Bun.serve: withCacheScope lets a handler return nothing after server.upgrade(request)",
  async () => {
    const errors: unknown[] = [];
    const scopes: (string | undefined)[] = [];
    let disposed = false;
    const bun = (globalThis as unknown as { Bun: BunWebSocketServe }).Bun;
    const server = bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: withCacheScope(
        (request: Request, server: { upgrade(request: Request): boolean }) => {
          const scope = currentScope();
          scopes.push(scope?.id);
          scope?.onEnd(() => disposed = true);
          if (server.upgrade(request)) return undefined;
          return new Response("not a WebSocket request", { status: 400 });
        },
      ),
      websocket: {
        open(ws) {
          ws.send("hello");
        },
        message() {},
      },
      error(error) {
        errors.push(error);
        return new Response(null, { status: 500 });
      },
    });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
      const message = await new Promise<unknown>((resolve, reject) => {
        ws.onmessage = (event) => resolve(event.data);
        ws.onerror = () => reject(new Error("the WebSocket failed"));
      });
      ws.close();
      assert.equal(message, "hello");
      assert.equal(scopes.length, 1);
      assert.ok(disposed, "the scope ended when the handler returned nothing");
      assert.deepEqual(errors, []);
    } finally {
      await server.stop(true);
    }
  },
);
