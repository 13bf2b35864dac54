/**
 * Read your writes on real servers: a request reads a user, renames it in a real store
 * (`node:sqlite`, in memory), calls `invalidateTags`, and reads the new row; requests in flight
 * at the same time keep their own cache, untouched; a request after the write reads the new
 * row. The runtime's own fetch server (`withCacheScope`) and `node:http`
 * (`withListenerCacheScope`), on every runtime.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { DatabaseSync } from "node:sqlite";
import {
  currentScope,
  invalidateTags,
  perRequestCache,
  withCacheScope,
  withListenerCacheScope,
} from "../../mod.ts";
import { type Listening, listenNodeHttp, nativeFetchServer, serveFetch } from "./_servers.ts";

/** Readers in flight while the writer writes. */
const READERS = 10;

/** The app: a store, cached reads tagged by user, and the routes the test calls. */
function app() {
  const db = new DatabaseSync(":memory:");
  db.exec(`
    create table users (id integer primary key, name text not null);
    create table posts (id integer primary key, author integer not null, title text not null);
    insert into users values (1, 'Ada'), (2, 'Linus');
    insert into posts values (1, 1, 'Notes'), (2, 1, 'Engines'), (3, 2, 'Kernels');
  `);
  const queries = { count: 0 };
  const selectUser = db.prepare("select name from users where id = ?");
  const selectPosts = db.prepare("select title from posts where author = ? order by id");
  const getUser = perRequestCache((id: number) => {
    queries.count++;
    return (selectUser.get(id) as { name: string }).name;
  }, { name: "getUser", tags: (id) => [`user:${id}`] });
  const getBylines = perRequestCache(async (id: number) => {
    queries.count++;
    await null; // an async read, as a driver's would be
    const author = getUser(id);
    return (selectPosts.all(id) as { title: string }[]).map(({ title }) => `${title} by ${author}`);
  }, { name: "getBylines", tags: (id) => [`user:${id}`, "posts"] });
  const getAuthorCount = perRequestCache(() => {
    queries.count++;
    return (db.prepare("select count(*) as n from users").get() as { n: number }).n;
  }, { name: "getAuthorCount", tags: () => ["authors"] });

  let reads = 0;
  const allRead = Promise.withResolvers<void>();
  const written = Promise.withResolvers<void>();

  async function route(method: string, path: string): Promise<unknown> {
    const stats = () => {
      const { hits, misses, joins, entries } = currentScope()!.stats;
      return { hits, misses, joins, entries };
    };
    if (method === "POST" && path === "/users/1/name") {
      const before = [getUser(1), await getBylines(1), getAuthorCount()];
      await allRead.promise; // every reader has read the old row by now
      db.prepare("update users set name = ? where id = ?").run("Grace", 1);
      const dropped = invalidateTags("user:1");
      const after = [getUser(1), await getBylines(1), getAuthorCount()];
      written.resolve();
      return { before, dropped, after, stats: stats() };
    }
    if (path === "/users/1") {
      const first = [getUser(1), await getBylines(1)];
      if (++reads === READERS) allRead.resolve();
      await written.promise;
      const second = [getUser(1), await getBylines(1)];
      return { first, second, stats: stats() };
    }
    return { now: [getUser(1), await getBylines(1)] };
  }
  return { route, queries };
}

type App = ReturnType<typeof app>;

async function post(url: string): Promise<unknown> {
  const response = await fetch(new URL("users/1/name", url), {
    method: "POST",
    signal: AbortSignal.timeout(20_000),
  });
  return await response.json();
}

async function get(url: string, path: string): Promise<unknown> {
  return await (await fetch(new URL(path, url), { signal: AbortSignal.timeout(20_000) })).json();
}

async function readYourWrites(server: Listening, { queries }: App): Promise<void> {
  const [written, ...readers] = await Promise.all([
    post(server.url),
    ...Array.from({ length: READERS }, () => get(server.url, "users/1")),
  ]);
  const oldRow = ["Ada", ["Notes by Ada", "Engines by Ada"]];
  const newRow = ["Grace", ["Notes by Grace", "Engines by Grace"]];
  assert.deepEqual(written, {
    before: [...oldRow, 2],
    dropped: 2, // getUser(1) and getBylines(1); getAuthorCount is not tagged user:1
    after: [...newRow, 2],
    stats: { hits: 3, misses: 5, joins: 0, entries: 3 },
  });
  for (const reader of readers) {
    // Another request's write does not reach into this request's cache.
    assert.deepEqual(reader, {
      first: oldRow,
      second: oldRow,
      stats: { hits: 3, misses: 2, joins: 0, entries: 2 },
    });
  }
  assert.deepEqual(await get(server.url, "later"), { now: newRow });
  assert.equal(queries.count, 5 + 2 * READERS + 2);
}

test(`${nativeFetchServer} with withCacheScope: a request reads its own write after invalidateTags, concurrent requests keep theirs`, async () => {
  const served = app();
  const handler = withCacheScope(async (request: Request) => {
    const url = new URL(request.url);
    return Response.json(await served.route(request.method, url.pathname));
  });
  await using server = await serveFetch(nativeFetchServer, handler);
  await readYourWrites(server, served);
});

test("node:http with withListenerCacheScope: a request reads its own write after invalidateTags, concurrent requests keep theirs", async () => {
  const served = app();
  const listener = withListenerCacheScope(
    async (request: IncomingMessage, response: ServerResponse) => {
      const body = await served.route(request.method ?? "GET", request.url ?? "/");
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify(body));
    },
  );
  await using server = await listenNodeHttp(listener);
  await readYourWrites(server, served);
});
