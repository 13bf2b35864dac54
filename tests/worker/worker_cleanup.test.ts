/**
 * Semantics 3 of the workers issue: long-lived workers do not grow. After 10,000 requests
 * through a pool, each leaving core and shared entries in the workers, the workers' own stats
 * (counted from their containers, not from what the code believes it released) show no scope
 * and no entry, and the main thread tracks no scope either.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runInCacheScope } from "../../mod.ts";
import { createWorkerPool } from "../../worker.ts";
import { TASKS_URL } from "./fixtures/computed.ts";
import type { tasks } from "./fixtures/tasks.ts";

const REQUESTS = 10_000;
const IN_FLIGHT = 64;

// Bounded well past Bun's default of 5 s, which 10,000 requests exceed on a loaded machine.
test("after 10,000 requests the workers hold no entries of ended scopes", {
  timeout: 120_000,
}, async () => {
  await using pool = createWorkerPool<typeof tasks>(TASKS_URL, { size: 2 });
  let next = 0;
  let checked = 0;
  async function client(): Promise<void> {
    while (next < REQUESTS) {
      const i = next++;
      await runInCacheScope({ id: i }, async (scope) => {
        // One shared entry (through the main thread) and one per-worker entry per request.
        const [shared, local] = await pool.run("scoreAndPerWorker", [i % 5]);
        assert.equal(shared.scope, scope.id);
        assert.equal(local.scope, scope.id);
        checked++;
      });
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, client));
  assert.equal(checked, REQUESTS);

  const stats = await pool.stats();
  assert.equal(stats.scopes, 0);
  assert.equal(stats.workers.length, 2);
  for (const worker of stats.workers) {
    assert.deepEqual({ scopes: worker.scopes, entries: worker.entries }, { scopes: 0, entries: 0 });
  }
  assert.equal(stats.workers.reduce((sum, worker) => sum + worker.tasks, 0), REQUESTS);
});
