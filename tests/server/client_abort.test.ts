/**
 * A client that goes away while its request's cached async calls are still in flight, on real
 * servers (127.0.0.1, an ephemeral port): the request's scope ends without waiting for them, the
 * results that arrive afterwards are not stored anywhere, and the next request with the same
 * arguments runs the calls again and gets its own values. (A client that aborts mid-stream, once
 * the handler has returned its response, is in streaming_scope.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import {
  type CacheScope,
  currentScope,
  perRequestCache,
  withCacheScope,
  withListenerCacheScope,
} from "../../mod.ts";
import { tokenOf } from "./_isolation_workload.ts";
import {
  eventually,
  type Listening,
  listenNodeHttp,
  nativeFetchServer,
  quietErrors,
  serveFetch,
} from "./_servers.ts";

/**
 * Cached async calls that wait for the test to release them, and what they did: every real
 * run is counted by call, and each value carries the token of the request it ran for.
 */
function gatedCalls() {
  const runs: string[] = [];
  const gate = Promise.withResolvers<void>();
  const gated = async (call: string) => {
    runs.push(call);
    await gate.promise;
    return { call, token: tokenOf(currentScope()?.request) };
  };
  const getUser = perRequestCache((id: number) => gated(`getUser(${id})`));
  const getOrders = perRequestCache((id: number) => gated(`getOrders(${id})`));
  return {
    runs,
    started: () => runs.length,
    /** Lets every call waiting so far finish, and every later call run straight through. */
    release: () => gate.resolve(),
    /** What each request's handler does: three calls, two of them equal. */
    handler: () => Promise.all([getUser(1), getOrders(1), getUser(1)]),
  };
}

/** Starts a request with `token`, waits until its handler's calls have started, aborts it. */
async function abortWhileInFlight(
  url: string,
  token: string,
  started: () => number,
  before: number,
): Promise<void> {
  const controller = new AbortController();
  const response = fetch(url, { headers: { "x-token": token }, signal: controller.signal });
  await eventually(() => started() >= before + 2, "the handler's cached calls started");
  controller.abort();
  await assert.rejects(response, { name: "AbortError" });
}

async function fetchValues(url: string, token: string): Promise<unknown> {
  const response = await fetch(url, { headers: { "x-token": token } });
  assert.equal(response.status, 200);
  return await response.json();
}

/** The checks every server shares once the aborted request's scope is known. */
async function checkLateResults(
  server: Listening,
  calls: ReturnType<typeof gatedCalls>,
  aborted: () => CacheScope | undefined,
): Promise<void> {
  await abortWhileInFlight(server.url, "aborted", calls.started, 0);
  await eventually(() => aborted()?.disposed === true, "the aborted request's scope ended");
  // Two real runs (getUser(1) was shared by its two calls), both still in flight.
  assert.deepEqual(calls.runs, ["getUser(1)", "getOrders(1)"]);
  calls.release();
  await delay(10); // the late results settle now, after their scope ended
  assert.equal(aborted()!.stats.entries, 0, "a late result was stored in the ended scope");

  // The next request with the same arguments runs both calls again and sees only its own.
  const values = await fetchValues(server.url, "next");
  assert.deepEqual(values, [
    { call: "getUser(1)", token: "next" },
    { call: "getOrders(1)", token: "next" },
    { call: "getUser(1)", token: "next" },
  ]);
  assert.deepEqual(calls.runs, ["getUser(1)", "getOrders(1)", "getUser(1)", "getOrders(1)"]);
}

test("node:http with withListenerCacheScope: a client that aborts mid-call ends the scope, and late results are not stored", async () => {
  const calls = gatedCalls();
  const scopes: CacheScope[] = [];
  const listener = withListenerCacheScope(
    async (_request: IncomingMessage, response: ServerResponse) => {
      scopes.push(currentScope()!);
      const values = await calls.handler();
      if (!response.closed) response.end(JSON.stringify(values));
    },
  );
  await using server = await listenNodeHttp(listener);
  await checkLateResults(server, calls, () => scopes[0]);
  assert.equal(scopes.length, 2);
  await eventually(() => scopes[1].disposed, "the next request's scope ended");
});

test(`${nativeFetchServer} with withCacheScope: a handler that stops on request.signal ends the scope, and late results are not stored`, async () => {
  const calls = gatedCalls();
  const scopes: CacheScope[] = [];
  const handler = withCacheScope(async (request: Request) => {
    scopes.push(currentScope()!);
    // The handler gives up when the client goes away; the cached calls it started do not stop.
    const { promise: aborted, reject } = Promise.withResolvers<never>();
    const onAbort = () => reject(new Error("client went away"));
    request.signal.addEventListener("abort", onAbort);
    try {
      return Response.json(await Promise.race([calls.handler(), aborted]));
    } finally {
      // Deno.serve also aborts request.signal after a response it sent in full.
      request.signal.removeEventListener("abort", onAbort);
    }
  });
  using quiet = quietErrors();
  await using server = await serveFetch(nativeFetchServer, handler);
  await checkLateResults(server, calls, () => scopes[0]);
  assert.equal(scopes.length, 2);
  await eventually(() => scopes[1].disposed, "the next request's scope ended");
  assert.ok(
    quiet.errors.every((args) => String(args).includes("client went away")),
    String(quiet.errors[0]),
  );
});
