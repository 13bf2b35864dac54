/** The examples still run: the demo's burst against its own server, on every runtime. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { burst, formatBurst, main, serveDemo, store } from "../examples/demo.ts";

test("the demo serves its app and every request of a burst gets its own cache", async () => {
  await using server = await serveDemo();
  const before = store.queries.users + store.queries.roles;
  const result = await burst(server.url, 30);
  assert.equal(result.rows.length, 30);
  for (const row of result.rows) {
    assert.equal(row.status, 200, `request ${row.request}`);
    // Ten cached calls per page; at most three distinct lookups (viewer, owner, role).
    assert.equal(row.hits + row.misses + row.joins, 10, `request ${row.request}`);
    assert.ok(row.misses >= 2 && row.misses <= 3, `request ${row.request}: ${row.misses} misses`);
  }
  // Every miss is one query, and nothing else queried the store.
  const misses = result.rows.reduce((sum, row) => sum + row.misses, 0);
  assert.equal(result.queries, misses);
  assert.equal(store.queries.users + store.queries.roles - before, misses);
  assert.match(formatBurst(result), /^request +viewer +path +status +hits +misses +joins\n/);
});

test("`demo.ts` with no flag prints the burst's table and stops its server", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    await main([]);
  } finally {
    console.log = log;
  }
  assert.match(lines.join("\n"), /12 concurrent requests made 120 cached calls/);
});
