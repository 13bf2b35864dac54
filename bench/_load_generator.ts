/**
 * The load generator of the HTTP benchmarks (issue 5, item 5), run by Node as a child process
 * of the suite whatever runtime the suite runs on: autocannon in the server's process would
 * share its CPU and its event loop, and Deno and Bun do not run autocannon as well as Node.
 *
 * It stays up for the whole section, so that no process starts between two measurements: each
 * line on stdin is a job (`{ url, connections, seconds }` or `{ url, connections, amount }` as JSON) and each line on stdout is
 * its result (`{ requests, rps, errors, non2xx }`); stdin closing ends it.
 */
import { createInterface } from "node:readline";
import process from "node:process";
import autocannon from "autocannon";

/** A run of the load generator, as the suite asks for it. */
export interface LoadJob {
  readonly url: string;
  readonly connections: number;
  /** How long to load the server, unless `amount` is given. */
  readonly seconds?: number;
  /** How many requests to send, then stop (the smoke test). */
  readonly amount?: number;
}

/** What a run measured, as the load generator reports it. */
export interface LoadResult {
  /** Responses received. */
  readonly requests: number;
  /** Responses per second, averaged over the run's one-second samples. */
  readonly rps: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  /** Responses whose status was not 2xx. */
  readonly non2xx: number;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

async function run({ url, connections, seconds, amount }: LoadJob): Promise<LoadResult> {
  const result: AutocannonResult = await autocannon(
    amount === undefined ? { url, connections, duration: seconds } : { url, connections, amount },
  );
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

if (import.meta.main) {
  // One job at a time: the suite waits for each answer before it sends the next job.
  for await (const line of createInterface({ input: process.stdin })) {
    process.stdout.write(`${JSON.stringify(await run(JSON.parse(line)))}\n`);
  }
  // autocannon leaves timers behind for a second or two after a run; nothing is left to do.
  process.exit(0);
}
