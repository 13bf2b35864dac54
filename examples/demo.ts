/**
 * A small Hono app on @reqcache/core and a real SQLite database (`node:sqlite`, in memory,
 * seeded at start): a feed of posts whose handler looks up each post's author, the N+1 shape of
 * GraphQL resolvers and REST handlers that fan out.
 *
 * `npm run demo` (Node), `deno run -A examples/demo.ts` or `bun examples/demo.ts` serves the app
 * on 127.0.0.1, sends concurrent requests for the feed in three modes (author lookups uncached,
 * through `perRequestCache`, through `perRequestBatch`), prints the SQL statements each request
 * ran, and exits. Add `--serve` to keep serving (`--port 8000` to choose the port).
 *
 * @module
 */
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { type CacheScope, currentScope, perRequestBatch, perRequestCache } from "../mod.ts";
import { cacheScope } from "../hono.ts";

/** What the database is seeded with. */
export const seed = {
  authors: [[1, "Ada"], [2, "Bob"], [3, "Cy"], [4, "Dee"], [5, "Eve"]] as const,
  /** Posts: id, title, author id. The feed shows them all, each with its author. */
  posts: [
    [1, "Hello, SQLite", 1],
    [2, "Batching 101", 2],
    [3, "Why N+1 hurts", 1],
    [4, "Scopes, not contexts", 3],
    [5, "A tick is a batch", 2],
    [6, "Caching per request", 1],
    [7, "Resolvers that fan out", 4],
    [8, "DataLoader without loaders", 3],
    [9, "In-memory databases", 1],
    [10, "The end of the feed", 2],
  ] as const,
};

const db = new DatabaseSync(":memory:");
db.exec(`
  CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
  CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER NOT NULL);
`);
for (const row of seed.authors) db.prepare("INSERT INTO authors VALUES (?, ?)").run(...row);
for (const row of seed.posts) db.prepare("INSERT INTO posts VALUES (?, ?, ?)").run(...row);

/** The statements each request ran, by its scope: the app records them, no context passed. */
const statements = new WeakMap<CacheScope, string[]>();

/** Runs one query and records its SQL against the current request. */
function query<T>(sql: string, ...params: SQLInputValue[]): T[] {
  const scope = currentScope();
  if (scope !== undefined) {
    let log = statements.get(scope);
    if (log === undefined) statements.set(scope, log = []);
    log.push(sql);
  }
  return db.prepare(sql).all(...params) as T[];
}

interface Author {
  id: number;
  name: string;
}

interface Post {
  id: number;
  title: string;
  author_id: number;
}

/** One author, one query: what the handler would call without any cache. */
async function authorById(id: number): Promise<Author | undefined> {
  return query<Author>("SELECT id, name FROM authors WHERE id = ?", id)[0];
}

/** The same lookup, once per request and author id. */
const cachedAuthor = perRequestCache(authorById, { name: "cachedAuthor" });

/**
 * The same lookup, batched: the authors a request asks for in one tick are one query, whose rows
 * (in any order) answer as a `Map`; an id with no row loads `undefined`, as `authorById` returns.
 */
const batchedAuthor = perRequestBatch(async (ids: readonly number[]) => {
  const placeholders = ids.map(() => "?").join(", ");
  const rows = query<Author>(`SELECT id, name FROM authors WHERE id IN (${placeholders})`, ...ids);
  return new Map(rows.map((row) => [row.id, row]));
}, { name: "batchedAuthor" });

/** The three ways the feed looks its authors up. */
export const modes = {
  uncached: authorById,
  perRequestCache: cachedAuthor,
  perRequestBatch: batchedAuthor,
} as const;

/** A mode's name: `uncached`, `perRequestCache` or `perRequestBatch`. */
export type Mode = keyof typeof modes;

/** What `GET /feed` answers. */
export interface Feed {
  mode: Mode;
  posts: { title: string; author: string | undefined }[];
  /** The SQL statements this request ran, in order. */
  statements: string[];
}

/** The app: `GET /feed?mode=…`, one query for the posts and one author lookup per post. */
export const app: Hono = new Hono();
app.use(cacheScope());
app.get("/feed", async (c) => {
  const mode = c.req.query("mode") ?? "perRequestBatch";
  if (!Object.hasOwn(modes, mode)) return c.json({ error: `no mode ${mode}` }, 400);
  const authorOf = modes[mode as Mode];
  const posts = query<Post>("SELECT id, title, author_id FROM posts ORDER BY id");
  // The N+1: each post's author on its own, the way a resolver per field asks for it.
  const authors = await Promise.all(posts.map((post) => authorOf(post.author_id)));
  const feed: Feed = {
    mode: mode as Mode,
    posts: posts.map((post, i) => ({ title: post.title, author: authors[i]?.name })),
    statements: statements.get(currentScope()!) ?? [],
  };
  return c.json(feed);
});

/** One request of a run: its mode and the statements it ran. */
export interface RequestRow {
  request: number;
  mode: Mode;
  statements: string[];
}

/**
 * Sends `perMode` concurrent requests for the feed in each mode, all at once, to `url` (the
 * app's base URL), and returns what each one ran.
 */
export async function compare(url: string, perMode = 3): Promise<RequestRow[]> {
  const order = Object.keys(modes) as Mode[];
  const jobs = order.flatMap((mode) => Array.from({ length: perMode }, () => mode));
  return await Promise.all(jobs.map(async (mode, i) => {
    const response = await fetch(new URL(`feed?mode=${mode}`, url), {
      signal: AbortSignal.timeout(10_000),
    });
    if (response.status !== 200) throw new Error(`${mode}: ${await response.text()}`);
    const feed = await response.json() as Feed;
    return { request: i + 1, mode: feed.mode, statements: feed.statements };
  }));
}

/** Each request's statements, grouped (`× 10` for a statement run ten times), and totals. */
export function formatComparison(rows: RequestRow[]): string {
  const lines: string[] = [];
  for (const { request, mode, statements } of rows) {
    lines.push(`request ${request}, ${mode}: ${statements.length} SQL statements`);
    const counts = new Map<string, number>();
    for (const sql of statements) counts.set(sql, (counts.get(sql) ?? 0) + 1);
    for (const [sql, count] of counts) lines.push(`  ${sql}${count > 1 ? `  × ${count}` : ""}`);
  }
  const perMode = (mode: Mode) => rows.find((row) => row.mode === mode)?.statements.length;
  lines.push(
    "",
    `SQL statements per request: uncached ${perMode("uncached")}, perRequestCache ${
      perMode("perRequestCache")
    }, perRequestBatch ${perMode("perRequestBatch")} (${rows.length} concurrent requests).`,
  );
  return lines.join("\n");
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

/** `demo.ts [--serve] [--port N]`: compare the modes and exit, or keep serving. */
export async function main(args: string[]): Promise<void> {
  const serveOn = args.includes("--serve");
  const portAt = args.indexOf("--port");
  const port = portAt === -1 ? (serveOn ? 8000 : 0) : Number(args[portAt + 1]);
  const server = await serveDemo(port);
  if (serveOn) {
    console.log(`Serving on ${server.url} (try: curl ${server.url}feed?mode=perRequestBatch)`);
    return;
  }
  try {
    console.log(formatComparison(await compare(server.url)));
  } finally {
    await server[Symbol.asyncDispose]();
  }
}

if (import.meta.main) {
  const args = "Deno" in globalThis ? Deno.args : globalThis.process.argv.slice(2);
  await main(args);
}
