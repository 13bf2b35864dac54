/**
 * The README's GraphQL recipe, run: graphql-js resolvers that call a batched function with no
 * context argument, two queries in flight at once, one batch per request.
 */
import { test } from "node:test";
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

interface Post {
  id: number;
  authorId: number;
}

const posts: Post[] = [1, 2, 3, 4, 5, 6].map((id) => ({ id, authorId: (id % 3) + 1 }));
const batches: { request: unknown; ids: number[] }[] = [];
const getUser = perRequestBatch(async (ids: readonly number[]) => {
  batches.push({ request: currentScope()?.request, ids: [...ids] });
  return ids.map((id) => ({ id, name: `user ${id}` }));
});

const User = new GraphQLObjectType({
  name: "User",
  fields: { id: { type: GraphQLInt }, name: { type: GraphQLString } },
});
const PostType: GraphQLObjectType<Post> = new GraphQLObjectType<Post>({
  name: "Post",
  fields: () => ({
    id: { type: GraphQLInt },
    author: { type: User, resolve: (post) => getUser(post.authorId) },
    // A nested list one level down: its authors still join the request's batch.
    related: { type: new GraphQLList(PostType), resolve: (post) => posts.slice(post.id % 2, 2) },
  }),
});
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: "Query",
    fields: { posts: { type: new GraphQLList(PostType), resolve: () => posts } },
  }),
});

test("graphql-js resolvers batch per request with no context argument", async () => {
  const source = "{ posts { id author { name } related { author { id } } } }";
  const requests = [{ url: "/graphql?a" }, { url: "/graphql?b" }];
  const results = await Promise.all(
    requests.map((request) => runInCacheScope(request, () => graphql({ schema, source }))),
  );
  for (const result of results) {
    assert.equal(result.errors, undefined);
    const data = result.data as { posts: { author: { name: string } }[] };
    assert.deepEqual(data.posts.map((post) => post.author.name), [
      "user 2",
      "user 3",
      "user 1",
      "user 2",
      "user 3",
      "user 1",
    ]);
  }
  // One batch per request, each with the three distinct authors, once.
  assert.deepEqual(batches.map((batch) => batch.request), requests);
  for (const batch of batches) assert.deepEqual(batch.ids, [2, 3, 1]);
});
