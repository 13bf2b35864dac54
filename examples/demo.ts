/**
 * A small Hono app on @reqcache/core: a fake user and permission store that counts its queries,
 * and a page that asks it the same questions many times per request.
 *
 * `npm run demo` (Node), `deno run -A examples/demo.ts` or `bun examples/demo.ts` serves the app
 * on 127.0.0.1, sends a burst of concurrent requests to it, prints what each request hit and
 * missed, and exits. Add `--serve` to keep serving (`--port 8000` to choose the port).
 *
 * @module
 */
import { setTimeout as delay } from "node:timers/promises";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { perRequestCache } from "../mod.ts";
import { cacheScope } from "../hono.ts";

/** The fake store: what it holds, and how many queries it has answered. */
export const store = {
  queries: { users: 0, roles: 0 },
  users: new Map([
    ["ada", { name: "Ada", role: "admin", team: "core" }],
    ["bob", { name: "Bob", role: "editor", team: "docs" }],
    ["cy", { name: "Cy", role: "viewer", team: "docs" }],
  ]),
  roles: new Map([
    ["admin", ["read", "write", "delete"]],
    ["editor", ["read", "write"]],
    ["viewer", ["read"]],
  ]),
};

/** One query to the store: a few milliseconds, and one more on the counter. */
const findUser = perRequestCache(async (id: string) => {
  store.queries.users++;
  await delay(2 + Math.random() * 3);
  return store.users.get(id);
});

const permissionsOf = perRequestCache(async (role: string) => {
  store.queries.roles++;
  await delay(2 + Math.random() * 3);
  return store.roles.get(role) ?? [];
});

/** Deep in the app: each check looks the user up again, and the cache answers. */
async function can(userId: string, permission: string): Promise<boolean> {
  const user = await findUser(userId);
  return user !== undefined && (await permissionsOf(user.role)).includes(permission);
}

/** The documents of the demo: who owns them. */
const documents = new Map([["roadmap", "ada"], ["guide", "bob"], ["faq", "cy"]]);

/** The app: `GET /docs/:id` with the viewer in `x-user`. */
export const app: Hono = new Hono();
app.use(cacheScope({ serverTiming: true }));
app.get("/docs/:id", async (c) => {
  const viewer = c.req.header("x-user") ?? "cy";
  const owner = documents.get(c.req.param("id"));
  if (owner === undefined) return c.json({ error: "no such document" }, 404);
  // Every widget on the page asks its own questions, concurrently: the header, the editor
  // toolbar, the sidebar with the owner's card. The same few lookups, many times.
  const [canRead, canWrite, canDelete, ownerUser, viewerUser] = await Promise.all([
    can(viewer, "read"),
    can(viewer, "write"),
    can(viewer, "delete"),
    findUser(owner),
    findUser(viewer),
  ]);
  if (!canRead) return c.json({ error: "forbidden" }, 403);
  const sameTeam = (await findUser(owner))?.team === (await findUser(viewer))?.team;
  return c.json({
    viewer: viewerUser?.name,
    owner: ownerUser?.name,
    canWrite,
    canDelete: canDelete || (sameTeam && canWrite),
  });
});

/** One row of the burst's table. */
export interface BurstRow {
  request: number;
  viewer: string;
  path: string;
  status: number;
  hits: number;
  misses: number;
  /** Calls that shared a lookup still in flight. */
  joins: number;
}

/** What a burst did, in all. */
export interface BurstResult {
  rows: BurstRow[];
  /** Queries the store ran for the burst. */
  queries: number;
  /** Cached calls the handlers made (hits + misses + joins). */
  calls: number;
}

/**
 * Sends `requests` concurrent requests to `url` (the app's base URL) and collects the hits,
 * misses and joins each one reports in its `Server-Timing` header.
 */
export async function burst(url: string, requests = 12): Promise<BurstResult> {
  const viewers = [...store.users.keys()];
  const paths = [...documents.keys()].map((id) => `docs/${id}`);
  const before = store.queries.users + store.queries.roles;
  const rows = await Promise.all(Array.from({ length: requests }, async (_, i) => {
    const viewer = viewers[i % viewers.length];
    const path = paths[(i + Math.floor(i / viewers.length)) % paths.length];
    const response = await fetch(new URL(path, url), {
      headers: { "x-user": viewer },
      signal: AbortSignal.timeout(10_000),
    });
    const body = await response.json();
    // The app's answer names the viewer it served: a request answered for another must fail.
    if (response.status === 200 && body.viewer !== store.users.get(viewer)?.name) {
      throw new Error(`Request ${i + 1} for ${viewer} was answered for ${body.viewer}`);
    }
    const timing = response.headers.get("server-timing") ?? "";
    const [, hits = "0", misses = "0", joins = "0"] =
      /hits=(\d+) misses=(\d+) joins=(\d+)/.exec(timing) ?? [];
    return {
      request: i + 1,
      viewer,
      path: `/${path}`,
      status: response.status,
      hits: Number(hits),
      misses: Number(misses),
      joins: Number(joins),
    };
  }));
  const queries = store.queries.users + store.queries.roles - before;
  const calls = rows.reduce((sum, row) => sum + row.hits + row.misses + row.joins, 0);
  return { rows, queries, calls };
}

/** The burst as a table, and the totals under it. */
export function formatBurst({ rows, queries, calls }: BurstResult): string {
  const header = ["request", "viewer", "path", "status", "hits", "misses", "joins"];
  const cells = rows.map((row) => header.map((name) => String(row[name as keyof BurstRow])));
  const widths = header.map((name, i) =>
    Math.max(name.length, ...cells.map((row) => row[i].length))
  );
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
  return [
    line(header),
    line(widths.map((width) => "-".repeat(width))),
    ...cells.map(line),
    "",
    `${rows.length} concurrent requests made ${calls} cached calls; the store ran ${queries} queries ` +
    `(${calls} without the cache), and no request read another's results.`,
  ].join("\n");
}

/** A running server: its base URL and how to stop it. */
export interface DemoServer extends AsyncDisposable {
  readonly url: string;
}

/** The part of `Bun` the demo uses, so that it type-checks without Bun's types. */
interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request): Response | Promise<Response>;
  }): { readonly port: number; stop(closeActiveConnections?: boolean): Promise<void> };
}

/** Serves the app on 127.0.0.1 with the runtime's own server (`@hono/node-server` on Node). */
export async function serveDemo(port = 0): Promise<DemoServer> {
  const hostname = "127.0.0.1";
  if ("Deno" in globalThis) {
    const server = Deno.serve({ hostname, port, onListen() {} }, app.fetch);
    return {
      url: `http://${hostname}:${server.addr.port}/`,
      [Symbol.asyncDispose]: () => server.shutdown(),
    };
  }
  const bun = (globalThis as { Bun?: BunServe }).Bun;
  if (bun !== undefined) {
    const server = bun.serve({ hostname, port, fetch: app.fetch });
    return {
      url: `http://${hostname}:${server.port}/`,
      [Symbol.asyncDispose]: () => server.stop(true),
    };
  }
  const { serve } = await import("@hono/node-server");
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const server = serve({ fetch: app.fetch, hostname, port }, () => resolve(server));
  });
  return {
    url: `http://${hostname}:${(server.address() as AddressInfo).port}/`,
    [Symbol.asyncDispose]: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => error ? reject(error) : resolve());
        // Idle keep-alive connections would hold the close (and the process) for seconds.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/** `demo.ts [--serve] [--port N]`: burst and exit, or keep serving. */
export async function main(args: string[]): Promise<void> {
  const serveOn = args.includes("--serve");
  const portAt = args.indexOf("--port");
  const port = portAt === -1 ? (serveOn ? 8000 : 0) : Number(args[portAt + 1]);
  const server = await serveDemo(port);
  if (serveOn) {
    console.log(`Serving on ${server.url} (try: curl -i -H "x-user: bob" ${server.url}docs/guide)`);
    return;
  }
  try {
    console.log(formatBurst(await burst(server.url)));
  } finally {
    await server[Symbol.asyncDispose]();
  }
}

if (import.meta.main) {
  const args = "Deno" in globalThis ? Deno.args : globalThis.process.argv.slice(2);
  await main(args);
}
