/**
 * The workers issue's load test, on a real server (`Deno.serve` on Deno, `Bun.serve` on Bun,
 * `node:http` on Node, on 127.0.0.1 and an ephemeral port) with a pool of 4 workers: 200
 * concurrent requests, each mapping a CPU-bound shared cached function over inputs that repeat
 * within the request and across requests.
 *
 * Every computation stamps its result with a fresh id and the context it ran in, so the test
 * counts real runs and checks isolation from the results alone: one run per distinct
 * (request, input), every value right, and no result carrying another request's token.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { type CacheScope, openCacheScope, runInCacheScope } from "../../mod.ts";
import { createWorkerPool, type WorkerPool } from "../../worker.ts";
import { type Computed, heavy, TASKS_URL } from "./fixtures/computed.ts";
import type { tasks } from "./fixtures/tasks.ts";

const REQUESTS = 200;

/** Six inputs, four distinct, overlapping with the neighbouring requests' inputs. */
function inputsOf(request: number): number[] {
  const base = request % 10;
  return [base, base + 1, base + 2, base, base + 1, 20];
}

interface Reply {
  token: string;
  scope: string;
  results: Computed[];
}

function tokenOf(request: object | undefined): string {
  if (request instanceof Request) return request.headers.get("x-token") ?? "";
  const header = (request as IncomingMessage | undefined)?.headers["x-token"];
  return typeof header === "string" ? header : "";
}

/** What a handler does, whatever the server: map the inputs through the pool, in its scope. */
async function handle(
  pool: WorkerPool<typeof tasks>,
  scope: CacheScope,
  url: string,
): Promise<Reply> {
  const request = Number(new URL(url, "http://localhost").searchParams.get("n"));
  const results = await pool.map("score", inputsOf(request));
  return { token: tokenOf(scope.request), scope: scope.id, results };
}

interface Server {
  port: number;
  close(): Promise<void>;
}

function serve(pool: WorkerPool<typeof tasks>): Promise<Server> {
  const bun = (globalThis as {
    Bun?: {
      serve(options: {
        hostname: string;
        port: number;
        fetch(request: Request): Promise<Response>;
      }): { port: number; stop(force: boolean): Promise<void> };
    };
  }).Bun;
  const fetchHandler = (request: Request) =>
    runInCacheScope(
      request,
      async (scope) => Response.json(await handle(pool, scope, request.url)),
    );
  if ("Deno" in globalThis) {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, fetchHandler);
    return Promise.resolve({ port: server.addr.port, close: () => server.shutdown() });
  }
  if (bun !== undefined) {
    const server = bun.serve({ hostname: "127.0.0.1", port: 0, fetch: fetchHandler });
    return Promise.resolve({ port: server.port, close: () => server.stop(true) });
  }
  const server = createServer(async (request, response) => {
    using scope = openCacheScope(request);
    const reply = await handle(pool, scope, request.url ?? "/");
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify(reply));
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((closed) => {
            server.close(() => closed());
            server.closeAllConnections();
          }),
      });
    });
  });
}

test("200 concurrent requests through 4 workers: one run per (request, input), none shared", async () => {
  await using pool = createWorkerPool<typeof tasks>(TASKS_URL, {
    size: 4,
    context: (scope) => ({ token: tokenOf(scope.request) }),
  });
  // Every worker has answered once before the clock starts: starting them is not the load
  // (under `deno test`, each start type-checks the worker's module for seconds).
  assert.equal((await pool.stats()).workers.length, 4);
  const server = await serve(pool);
  const deadline = AbortSignal.timeout(25_000);
  let replies: Reply[];
  try {
    replies = await Promise.all(
      Array.from({ length: REQUESTS }, async (_, n) => {
        const response = await fetch(`http://127.0.0.1:${server.port}/report?n=${n}`, {
          headers: { "x-token": `token-${n}` },
          signal: deadline,
        });
        assert.equal(response.status, 200);
        return await response.json() as Reply;
      }),
    );
  } finally {
    await server.close();
  }

  const runs = new Map<string, string>(); // computation id → token of the request it ran for
  let distinctPairs = 0;
  for (const [n, reply] of replies.entries()) {
    const token = `token-${n}`;
    assert.equal(reply.token, token);
    const inputs = inputsOf(n);
    assert.deepEqual(reply.results.map((result) => result.n), inputs);
    const runOfInput = new Map<number, string>();
    for (const result of reply.results) {
      assert.equal(result.value, heavy(result.n));
      assert.equal(result.scope, reply.scope);
      assert.deepEqual(result.context, { token });
      const earlier = runOfInput.get(result.n);
      if (earlier === undefined) runOfInput.set(result.n, result.computation);
      else assert.equal(result.computation, earlier, `request ${n} ran ${result.n} twice`);
      const owner = runs.get(result.computation);
      assert.ok(owner === undefined || owner === token, `request ${n} got ${owner}'s result`);
      runs.set(result.computation, token);
    }
    distinctPairs += new Set(inputs).size;
  }
  assert.equal(runs.size, distinctPairs);
  assert.equal(distinctPairs, REQUESTS * 4);

  const stats = await pool.stats();
  assert.equal(stats.scopes, 0);
  for (const worker of stats.workers) assert.deepEqual([worker.scopes, worker.entries], [0, 0]);
});
