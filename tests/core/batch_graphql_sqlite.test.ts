/**
 * The README's batching recipe on a real database: graphql-js resolvers load authors through a
 * `perRequestBatch` function whose one `SELECT … WHERE id IN (…)` per request answers with
 * `new Map(rows.map((r) => [r.id, r]))`, rows in the database's order, an author with no row
 * included. Two queries run at once, each in its own scope.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  graphql,
  GraphQLInt,
  GraphQLList,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
} from "graphql";
import { currentScope, perRequestBatch, runInCacheScope } from "../../mod.ts";
import { type MemoryDatabase, openMemoryDatabase } from "./_sqlite.ts";

interface Post {
  id: number;
  title: string;
  author_id: number;
}

interface User {
  id: number;
  name: string;
}

let db: MemoryDatabase;
/** Every query the batch function ran: the request it ran for, and its ids. */
const queries: { request: unknown; ids: number[] }[] = [];

before(async () => {
  db = await openMemoryDatabase();
  db.exec(`
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER NOT NULL);
    INSERT INTO users (id, name) VALUES (1, 'Zed'), (2, 'Ada'), (3, 'Mia');
    INSERT INTO posts (id, title, author_id) VALUES
      (10, 'one', 3), (11, 'two', 1), (12, 'three', 3), (13, 'four', 2), (14, 'five', 9);
  `);
});

after(() => db.close());

const getUser = perRequestBatch(async (ids: readonly number[]) => {
  queries.push({ request: currentScope()?.request, ids: [...ids] });
  // Rows come back sorted by name, not in the order of the ids, and id 9 has none.
  const rows = db.all(
    `SELECT id, name FROM users WHERE id IN (${ids.map(() => "?").join(", ")}) ORDER BY name`,
    ...ids,
  ) as unknown as User[];
  return new Map(rows.map((r) => [r.id, r]));
});

const UserType = new GraphQLObjectType<User>({
  name: "User",
  fields: { id: { type: GraphQLInt }, name: { type: GraphQLString } },
});
const PostType = new GraphQLObjectType<Post>({
  name: "Post",
  fields: {
    title: { type: GraphQLString },
    author: { type: UserType, resolve: (post) => getUser(post.author_id) },
  },
});
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: "Query",
    fields: {
      posts: {
        type: new GraphQLList(PostType),
        resolve: async () => db.all("SELECT id, title, author_id FROM posts ORDER BY id"),
      },
    },
  }),
});

test("graphql over SQLite: one IN query per request, answered as a Map, rows matched to their posts", async () => {
  const source = "{ posts { title author { id name } } }";
  const requests = [{ url: "/graphql?a" }, { url: "/graphql?b" }];
  const results = await Promise.all(
    requests.map((request) => runInCacheScope(request, () => graphql({ schema, source }))),
  );
  for (const result of results) {
    assert.equal(result.errors, undefined);
    // As a client would see it: graphql-js builds its results with no prototype.
    assert.deepEqual(JSON.parse(JSON.stringify(result.data)), {
      posts: [
        { title: "one", author: { id: 3, name: "Mia" } },
        { title: "two", author: { id: 1, name: "Zed" } },
        { title: "three", author: { id: 3, name: "Mia" } },
        { title: "four", author: { id: 2, name: "Ada" } },
        { title: "five", author: null }, // no user 9: undefined, which GraphQL shows as null
      ],
    });
  }
  assert.deepEqual(queries, [
    { request: requests[0], ids: [3, 1, 2, 9] },
    { request: requests[1], ids: [3, 1, 2, 9] },
  ]);
});
