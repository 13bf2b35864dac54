/**
 * Isolation with the core alone, on real servers: handlers that open their own scope, with no
 * server integration around them. `Deno.serve` with `runInCacheScope` per request, `Deno.serve`
 * with a bare `using openCacheScope(request)` (the runtime carries an `enterWith` store over to
 * the next handler), and `node:http` with a bare `using openCacheScope(message)` on every runtime.
 * The workload and its checks are `_isolation_workload.ts`, shared with the integration tests
 * (`fetch_handler_servers.test.ts` also covers `Bun.serve` with a bare `using`, and shows that the
 * checks catch a leaking cache).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { currentScope, openCacheScope, runInCacheScope } from "../../mod.ts";
import { shownWarnings } from "../../src/core/_warn_once.ts";
import {
  assertIsolated,
  isolationWorkload,
  LOAD_TIME_LIMIT,
  seqOf,
  tokenOf,
} from "./_isolation_workload.ts";
import { isDeno, listenNodeHttp, serveFetch } from "./_servers.ts";

const FOREIGN_SCOPE_WARNING = /found another request's scope still active/;

/** Records `console.warn` until disposed, and counts handlers that start inside a scope. */
function observe(): { warnings: string[]; startedInScope: number; entered(): void } & Disposable {
  const original = console.warn;
  shownWarnings.clear();
  const observed = {
    warnings: [] as string[],
    startedInScope: 0,
    /** Call first thing in a handler. */
    entered() {
      if (currentScope() !== undefined) observed.startedInScope++;
    },
    [Symbol.dispose]() {
      console.warn = original;
    },
  };
  console.warn = (...args: unknown[]) => void observed.warnings.push(args.map(String).join(" "));
  return observed;
}

(isDeno ? test : test.skip)(
  "Deno.serve with runInCacheScope per request: 2,000 requests, 100 in flight, isolated",
  LOAD_TIME_LIMIT,
  async () => {
    using observed = observe();
    const { work, load } = isolationWorkload();
    await using server = await serveFetch("Deno.serve", async (request) => {
      observed.entered();
      const report = await runInCacheScope(
        request,
        () => work(tokenOf(request), seqOf(request.url)),
      );
      return Response.json(report);
    });
    assertIsolated(await load(server.url));
    // runInCacheScope never calls enterWith, so nothing carries over to the next handler.
    assert.equal(observed.startedInScope, 0, "handlers that started inside a scope");
    assert.deepEqual(observed.warnings, []);
  },
);

(isDeno ? test : test.skip)(
  "Deno.serve with a bare `using openCacheScope(request)`: no request reads another's entries",
  LOAD_TIME_LIMIT,
  async () => {
    // Deno.serve carries an enterWith store over to the next request's handler, so handlers
    // start inside another request's still-active scope. openCacheScope must not adopt it (one
    // warning per process), and every request must still get a cache of its own.
    using observed = observe();
    const { work, load } = isolationWorkload();
    await using server = await serveFetch("Deno.serve", async (request) => {
      observed.entered();
      using _scope = openCacheScope(request);
      return Response.json(await work(tokenOf(request), seqOf(request.url)));
    });
    assertIsolated(await load(server.url));
    // Whether the store carries over is Deno's business (on Deno 2.9.6 nearly every handler
    // starts inside the scope of a request still in flight); when it does, the library warns,
    // once per process.
    assert.ok(observed.warnings.length <= 1, `${observed.warnings.length} warnings`);
    for (const warning of observed.warnings) assert.match(warning, FOREIGN_SCOPE_WARNING);
    if (observed.startedInScope > 0) assert.equal(observed.warnings.length, 1);
  },
);

test(
  "node:http with a bare `using openCacheScope(message)`: 2,000 requests, 100 in flight, isolated",
  LOAD_TIME_LIMIT,
  async () => {
    using observed = observe();
    const { work, load } = isolationWorkload();
    await using server = await listenNodeHttp(
      async (request: IncomingMessage, response: ServerResponse) => {
        observed.entered();
        using _scope = openCacheScope(request);
        const report = await work(tokenOf(request), seqOf(request.url ?? ""));
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify(report));
      },
    );
    assertIsolated(await load(server.url));
    // node:http (Node's, Deno's and Bun's) starts every handler outside any scope, which is what
    // makes a bare `using` safe there; if a runtime started carrying stores over, this says so.
    assert.equal(observed.startedInScope, 0, "handlers that started inside a scope");
    assert.deepEqual(observed.warnings, []);
  },
);
