/** The examples still run: the demo against its own server and database, on every runtime. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { compare, formatComparison, main, type Mode, seed, serveDemo } from "../examples/demo.ts";

const POSTS_QUERY = "SELECT id, title, author_id FROM posts ORDER BY id";
const AUTHOR_QUERY = "SELECT id, name FROM authors WHERE id = ?";

// What each mode must run, derived from the seeded data: one query for the posts, then one
// author query per post (uncached), per distinct author (perRequestCache), or one in all.
const posts = seed.posts.length;
const distinctAuthors = new Set(seed.posts.map(([, , authorId]) => authorId)).size;
const expected: Record<Mode, string[]> = {
  uncached: [POSTS_QUERY, ...Array(posts).fill(AUTHOR_QUERY)],
  perRequestCache: [POSTS_QUERY, ...Array(distinctAuthors).fill(AUTHOR_QUERY)],
  perRequestBatch: [
    POSTS_QUERY,
    `SELECT id, name FROM authors WHERE id IN (${Array(distinctAuthors).fill("?").join(", ")})`,
  ],
};

test("the demo's feed runs N+1, distinct-author and batched SQL in its three modes", async () => {
  await using server = await serveDemo();
  const rows = await compare(server.url, 5);
  assert.equal(rows.length, 15);
  for (const row of rows) assert.deepEqual(row.statements, expected[row.mode], `${row.request}`);
  const [uncached, cached, batched] = [
    expected.uncached.length,
    expected.perRequestCache.length,
    expected.perRequestBatch.length,
  ];
  assert.ok(uncached > cached && cached > batched, `${uncached} > ${cached} > ${batched}`);
  assert.match(formatComparison(rows), /^request 1, uncached: \d+ SQL statements\n/);
});

test("`demo.ts` with no flag prints the three counts and stops its server", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    await main([]);
  } finally {
    console.log = log;
  }
  assert.match(
    lines.join("\n"),
    new RegExp(
      `SQL statements per request: uncached ${expected.uncached.length}, perRequestCache ${expected.perRequestCache.length}, perRequestBatch ${expected.perRequestBatch.length} `,
    ),
  );
});
