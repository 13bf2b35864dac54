/**
 * Real servers on 127.0.0.1 and an ephemeral port, for the tests of the server integrations:
 * `Deno.serve` (Deno only), `Bun.serve` (Bun only), `@hono/node-server` and `node:http` (every
 * runtime). Each one is `AsyncDisposable`, so `await using server = …` closes it, its open
 * connections included, whichever way the test ends.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { serve as serveNode } from "@hono/node-server";

export const isDeno = "Deno" in globalThis;
export const isBun = "Bun" in globalThis;

/** A server that listens: the base URL (ending in `/`) and how to close it. */
export interface Listening extends AsyncDisposable {
  readonly url: string;
}

/** A fetch handler as every server here takes it. */
export type Fetch = (request: Request, server?: unknown) => Response | Promise<Response>;

/** The servers that take a fetch handler. */
export type FetchServer = "Deno.serve" | "Bun.serve" | "@hono/node-server";

/** The part of `Bun` these tests use, so that they type-check without Bun's types. */
interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request): Response | Promise<Response>;
    error(error: unknown): Response;
  }): { readonly port: number; stop(closeActiveConnections?: boolean): Promise<void> };
}
const bun = (globalThis as { Bun?: BunServe }).Bun;

/** The fetch server this runtime has of its own (`@hono/node-server` on Node). */
export const nativeFetchServer: FetchServer = isDeno
  ? "Deno.serve"
  : isBun
  ? "Bun.serve"
  : "@hono/node-server";

/** Serves `fetch` with the server named `kind`. */
export async function serveFetch(kind: FetchServer, fetch: Fetch): Promise<Listening> {
  if (kind === "Deno.serve") {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, fetch);
    return {
      url: `http://127.0.0.1:${server.addr.port}/`,
      async [Symbol.asyncDispose]() {
        await server.shutdown();
      },
    };
  }
  if (kind === "Bun.serve") {
    const server = bun!.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch,
      // Without an error handler, `bun test` fails the running test when a handler throws,
      // where Deno.serve and node:http log the error and answer 500.
      error(error) {
        console.error(error);
        return new Response("Internal Server Error", { status: 500 });
      },
    });
    return {
      url: `http://127.0.0.1:${server.port}/`,
      async [Symbol.asyncDispose]() {
        await server.stop(true);
      },
    };
  }
  let listening!: (info: AddressInfo) => void;
  const ready = new Promise<AddressInfo>((resolve) => listening = resolve);
  // By default @hono/node-server replaces the global Request and Response with its own classes,
  // for the whole process; Deno.serve and Bun.serve then reject the responses Hono makes. Node's
  // runner gives each file a process of its own, so only Node keeps the default users get.
  const overrideGlobalObjects = !isDeno && !isBun;
  const server = serveNode(
    { fetch, hostname: "127.0.0.1", port: 0, overrideGlobalObjects },
    listening,
  );
  const { port } = await ready;
  return closing(server as ReturnType<typeof createServer>, port);
}

/** A `node:http` server with `listener` as its request listener. */
export async function listenNodeHttp(
  listener: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<Listening> {
  const server = createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return closing(server, (server.address() as AddressInfo).port);
}

function closing(server: ReturnType<typeof createServer>, port: number): Listening {
  return {
    url: `http://127.0.0.1:${port}/`,
    async [Symbol.asyncDispose]() {
      const closed = new Promise<void>((resolve, reject) => {
        server.close((error) => error ? reject(error) : resolve());
      });
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * Waits until `check()` holds, polling every few milliseconds, and fails with `what` after
 * `timeout` ms: for what a server does after the client has its answer (a scope that ends when
 * the socket closes, or when the runtime cancels a body).
 */
export async function eventually(
  check: () => boolean,
  what: string,
  timeout = 3_000,
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Still not true after ${timeout} ms: ${what}`);
    await delay(5);
  }
}

/** Replaces `console.error` (servers log a handler's error) with a recorder until disposed. */
export function quietErrors(): { errors: unknown[] } & Disposable {
  const original = console.error;
  const errors: unknown[] = [];
  console.error = (...args: unknown[]) => errors.push(args);
  return {
    errors,
    [Symbol.dispose]() {
      console.error = original;
    },
  };
}
