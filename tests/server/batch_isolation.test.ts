/**
 * Isolation of `perRequestBatch` on real servers: 2,000 requests, 100 in flight, on
 * `Deno.serve` and `Bun.serve` (with `withCacheScope`), `node:http` (a bare `using`) and Hono's
 * `cacheScope()` on the runtime's own server. Every request loads keys that other requests load
 * too, plus a key only it loads, in rounds with awaits between them, so batches of many
 * requests are pending at once. Each batch records the request it ran for (read from
 * `currentScope()` inside the batch function) and its keys; a batch holding two requests' keys
 * would show two private keys, or a private key of another request.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import { Hono } from "hono";
import { currentScope, openCacheScope, perRequestBatch, withCacheScope } from "../../mod.ts";
import { cacheScope } from "../../hono.ts";
import { driveLoad } from "./_load.ts";
import { LOAD_TIME_LIMIT, seqOf, tokenOf } from "./_isolation_workload.ts";
import {
  type FetchServer,
  isBun,
  isDeno,
  listenNodeHttp,
  nativeFetchServer,
  serveFetch,
} from "./_servers.ts";

const TOTAL = 2_000;
const CONCURRENCY = 100;

/** The keys request `seq` loads in each round: shared ones, and its own (`own:<seq>`). */
function keysOf(seq: number, round: number): string[] {
  const shared = [`user:${seq % 7}`, `team:${seq % 3}`, `user:${(seq + round) % 7}`];
  return round === 0 ? [...shared, `own:${seq}`, shared[0]] : [...shared, `own:${seq}`];
}

function batchWorkload() {
  /** Every batch: the token of the request it ran for, and its keys. */
  const batches: { token: string; keys: string[] }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const load = perRequestBatch(async (keys: readonly string[]) => {
    const token = tokenOf(currentScope()?.request);
    batches.push({ token, keys: [...keys] });
    await delay(Math.random() * 3);
    return keys.map((key) => ({ key, token }));
  }, { name: "load" });

  async function work(seq: number): Promise<{ reads: string[] }> {
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      const reads: string[] = [];
      for (let round = 0; round < 3; round++) {
        const values = await Promise.all(keysOf(seq, round).map((key) => load(key)));
        for (const value of values) reads.push(value.token);
        await delay(Math.random() * 3);
      }
      return { reads };
    } finally {
      inFlight--;
    }
  }

  async function run(url: string): Promise<void> {
    const run = crypto.randomUUID().slice(0, 8);
    const reports = await driveLoad(async (seq, signal) => {
      const response = await fetch(`${url}?seq=${seq}`, {
        headers: { "x-token": `${run}-${seq}` },
        signal,
      });
      const body = await response.text();
      assert.equal(response.status, 200, body);
      return JSON.parse(body) as { reads: string[] };
    }, { total: TOTAL, concurrency: CONCURRENCY, deadline: 25_000 });

    const problems: string[] = [];
    reports.forEach(({ reads }, seq) => {
      const foreign = reads.filter((token) => token !== `${run}-${seq}`);
      if (foreign.length > 0) problems.push(`request ${seq} read ${foreign.slice(0, 3)}`);
    });
    const sentPerRequest = new Map<string, string[]>();
    for (const { token, keys } of batches) {
      const own = keys.filter((key) => key.startsWith("own:"));
      if (own.length > 1) problems.push(`one batch held ${own.join(", ")}`);
      if (own.length === 1 && `${run}-${own[0].slice(4)}` !== token) {
        problems.push(`the batch of ${token} held ${own[0]}`);
      }
      sentPerRequest.set(token, [...(sentPerRequest.get(token) ?? []), ...keys]);
    }
    for (let seq = 0; seq < TOTAL; seq++) {
      const sent = sentPerRequest.get(`${run}-${seq}`) ?? [];
      const expected = new Set([0, 1, 2].flatMap((round) => keysOf(seq, round)));
      if (sent.length !== expected.size || !sent.every((key) => expected.has(key))) {
        problems.push(`request ${seq} sent ${sent.join(",")}, not each of its keys once`);
      }
    }
    assert.deepEqual(problems.slice(0, 10), [], `${problems.length} problems`);
    assert.equal(sentPerRequest.size, TOTAL);
    assert.ok(maxInFlight > 50, `at most ${maxInFlight} handlers at once`);
  }

  return { work, run };
}

function fetchHandler(work: (seq: number) => Promise<{ reads: string[] }>) {
  return withCacheScope(async (request: Request) => Response.json(await work(seqOf(request.url))));
}

(isDeno ? test : test.skip)(
  "Deno.serve with withCacheScope: no batch holds two requests' keys, each key sent once",
  LOAD_TIME_LIMIT,
  async () => {
    const { work, run } = batchWorkload();
    await using server = await serveFetch("Deno.serve", fetchHandler(work));
    await run(server.url);
  },
);

(isBun ? test : test.skip)(
  "Bun.serve with withCacheScope: no batch holds two requests' keys, each key sent once",
  LOAD_TIME_LIMIT,
  async () => {
    const { work, run } = batchWorkload();
    await using server = await serveFetch("Bun.serve", fetchHandler(work));
    await run(server.url);
  },
);

test(
  "node:http with a bare `using openCacheScope(message)`: batches stay per request",
  LOAD_TIME_LIMIT,
  async () => {
    const { work, run } = batchWorkload();
    await using server = await listenNodeHttp(
      async (request: IncomingMessage, response: ServerResponse) => {
        using _scope = openCacheScope(request);
        const report = await work(seqOf(request.url ?? ""));
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify(report));
      },
    );
    await run(server.url);
  },
);

test(
  `Hono with cacheScope() on ${nativeFetchServer}: batches stay per request`,
  LOAD_TIME_LIMIT,
  async () => {
    const { work, run } = batchWorkload();
    const app = new Hono();
    app.use(cacheScope());
    app.get("/", async (c) => c.json(await work(seqOf(c.req.url))));
    await using server = await serveFetch(nativeFetchServer as FetchServer, app.fetch);
    await run(server.url);
  },
);
