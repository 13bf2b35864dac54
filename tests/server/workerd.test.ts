/**
 * @reqcache/core on Cloudflare's runtime: the apps in tests/server/_workerd/ are bundled with the
 * pinned Bun (`node:async_hooks` left to workerd) and served by the pinned workerd on 127.0.0.1, on
 * ports workerd picks and reports through `--control-fd`. Nothing else is contacted.
 *
 * - fetch: `export default { fetch: withCacheScope(handler) }`, flag `nodejs_compat`;
 * - hono: a Hono app with `app.use(cacheScope())`, flag `nodejs_als`;
 * - both: `/batch`, `perRequestBatch` functions (a `Map` answer; `cache: false` with a
 *   `schedule`) loaded by requests in flight together;
 * - bare: a handler with no wrapper, where `openCacheScope` must refuse (workerd has no
 *   `enterWith`);
 * - channels: a `withCacheScope` handler whose isolate subscribes to the `reqcache:`
 *   diagnostics channels, flag `nodejs_compat`.
 *
 * On both flags, `createWorkerPool` and `spawnWorker` must refuse when called (`/pool`): workerd's
 * `node:worker_threads` has a `Worker` that throws when constructed.
 *
 * Each app is one isolate serving every request concurrently, so a leak between requests would
 * show. The handlers record every real execution per request in the isolate, and the test reads
 * that record back through `/_record` (see tests/server/_workerd/workload.ts).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { fileURLToPath } from "node:url";
import { driveLoad } from "./_load.ts";
import { expectedCalls, type IsolateRecord, type Report } from "./_workerd/workload.ts";
import type { ChannelCounts } from "./_workerd/channels_worker.ts";
import type { BatchReport } from "./_workerd/batch_route.ts";

const REQUESTS = 2_000;
const IN_FLIGHT = 100;
const BATCH_REQUESTS = 300;
const BATCH_IN_FLIGHT = 30;
/** The newest date workerd 1.20261117.1 accepts that the README asks users to set, or older. */
const COMPATIBILITY_DATE = "2026-11-01";
/** Bounds on the child processes, so a hang fails the test instead of stalling the suite. */
const BUNDLE_TIMEOUT = 60_000;
const START_TIMEOUT = 20_000;
const STOP_TIMEOUT = 3_000;

const root = fileURLToPath(new URL("../../", import.meta.url));
const bunPath = join(root, "node_modules/.bin/bun");
const workerdPath = join(root, "node_modules/.bin/workerd");
const apps = ["fetch", "hono", "bare", "channels"] as const;
type App = typeof apps[number];

/** One service per app, each on its own loopback socket; port 0 lets workerd pick. */
function workerdConfig(): string {
  const flags: Record<App, string> = {
    fetch: "nodejs_compat",
    hono: "nodejs_als",
    bare: "nodejs_als",
    channels: "nodejs_compat",
  };
  const services = apps.map((app) => `(name = "${app}", worker = .${app}Worker)`);
  const sockets = apps.map((app) =>
    `(name = "${app}", address = "127.0.0.1:0", http = (), service = "${app}")`
  );
  const workers = apps.map((app) =>
    `const ${app}Worker :Workerd.Worker = (
  modules = [(name = "${app}_worker.js", esModule = embed "${app}_worker.js")],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  compatibilityFlags = ["${flags[app]}"],
);`
  );
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [${services.join(", ")}],
  sockets = [${sockets.join(", ")}],
);

${workers.join("\n\n")}
`;
}

/** Runs a command to its end, failing with its output if it exits non-zero or runs too long. */
function runToEnd(command: string, args: string[], timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (chunk) => output += chunk);
    child.stderr!.on("data", (chunk) => output += chunk);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else {reject(
          new Error(`${command} ${args.join(" ")} exited with ${code ?? signal}:\n${output}`),
        );}
    });
  });
}

/** A running workerd, the port of each app, and what it wrote to stderr. */
interface Workerd {
  child: ChildProcess;
  ports: Record<App, number>;
  log(): string;
}

/**
 * Starts `workerd serve config.capnp --control-fd=3` and waits for its control messages
 * (`{"event":"listen","socket":"fetch","port":…}`, one per socket), then for each app to answer.
 */
async function startWorkerd(dir: string): Promise<Workerd> {
  const child = spawn(workerdPath, ["serve", join(dir, "config.capnp"), "--control-fd=3"], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => stderr = (stderr + chunk).slice(-20_000));
  const workerd: Workerd = { child, ports: {} as Record<App, number>, log: () => stderr };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`Cannot start workerd: no port after ${START_TIMEOUT} ms\n${stderr}`));
      }, START_TIMEOUT);
      let pending = "";
      child.stdio[3]!.on("data", (chunk) => {
        pending += chunk;
        const lines = pending.split("\n");
        pending = lines.pop()!;
        for (const line of lines) {
          const message = JSON.parse(line) as { event: string; socket: App; port: number };
          if (message.event === "listen") workerd.ports[message.socket] = message.port;
        }
        if (apps.every((app) => workerd.ports[app] !== undefined)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`Cannot start workerd: it exited with ${code ?? signal}\n${stderr}`));
      });
    });
    for (const app of apps) {
      const response = await fetch(`http://127.0.0.1:${workerd.ports[app]}/nowhere`, {
        signal: AbortSignal.timeout(START_TIMEOUT),
      });
      await response.body?.cancel();
      assert.equal(response.status, 404, `${app} answers`);
    }
  } catch (error) {
    await stopWorkerd(workerd);
    throw error;
  }
  return workerd;
}

/** SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT; closes its pipes either way. */
async function stopWorkerd({ child }: Workerd): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise((resolve) => {
      timer = setTimeout(() => resolve(child.kill("SIGKILL")), STOP_TIMEOUT);
    });
    await Promise.race([exited, late]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) await exited;
  }
  for (const stream of child.stdio) stream?.destroy();
}

/** The first few items of a list, for a problem that fits on a line. */
function brief(items: unknown[]): string {
  const shown = JSON.stringify(items.slice(0, 6));
  return items.length > 6 ? `${shown.slice(0, -1)}, … ${items.length - 6} more]` : shown;
}

describe("@reqcache/core on workerd", { timeout: 300_000 }, () => {
  let dir: string | undefined;
  let workerd: Workerd | undefined;
  /** Startup counts against the first test's timeout, the load against each load test's. */
  const slow = { timeout: BUNDLE_TIMEOUT + START_TIMEOUT * 2 + 90_000 };
  const url = (app: App, path: string) => `http://127.0.0.1:${workerd!.ports[app]}${path}`;
  const getJson = async <T>(app: App, path: string, token?: string): Promise<T> => {
    const headers = token === undefined ? undefined : { "x-token": token };
    const response = await fetch(url(app, path), { headers });
    const body = await response.text();
    assert.equal(response.status, 200, `${app} ${path}: ${body}`);
    return JSON.parse(body) as T;
  };

  /**
   * Bundles the apps and starts workerd once, for the first test that needs it. Not a `before`
   * hook: Bun's runner stops a hook after 5 s whatever its timeout option says, while it honours
   * a test's own timeout.
   */
  const served = (): Promise<Workerd> => serving ??= bundleAndServe();
  let serving: Promise<Workerd> | undefined;
  async function bundleAndServe(): Promise<Workerd> {
    mkdirSync(join(root, ".tmp"), { recursive: true });
    dir = mkdtempSync(join(root, ".tmp", "workerd-"));
    // --target=browser: workerd is no Node. The wildcard matters: with `-e node:async_hooks`
    // Bun 1.4.4 still swaps the import for an empty stub on this target.
    await runToEnd(bunPath, [
      "build",
      ...apps.map((app) => fileURLToPath(new URL(`./_workerd/${app}_worker.ts`, import.meta.url))),
      `--outdir=${dir}`,
      "--target=browser",
      "--conditions=workerd,worker",
      "--external=node:*",
      "--format=esm",
    ], BUNDLE_TIMEOUT);
    writeFileSync(join(dir, "config.capnp"), workerdConfig());
    return workerd = await startWorkerd(dir);
  }

  after(async () => {
    if (workerd !== undefined) await stopWorkerd(workerd);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  test(
    "the bundles import AsyncLocalStorage from workerd's node:async_hooks, not a stub",
    slow,
    async () => {
      await served();
      for (const app of apps) {
        const code = readFileSync(join(dir!, `${app}_worker.js`), "utf8");
        assert.match(code, /^import \{ AsyncLocalStorage \} from "node:async_hooks";$/m, app);
        // The core loads node:diagnostics_channel only if the runtime has it: a static import
        // would stop a Worker with only nodejs_als (before 2026-08-04) from loading at all.
        if (app !== "channels") {
          assert.doesNotMatch(code, /^import .* from "node:diagnostics_channel";$/m, app);
        }
      }
    },
  );

  for (const app of ["fetch", "hono"] as const) {
    test(
      `${app}: ${REQUESTS} requests, ${IN_FLIGHT} in flight, each runs its calls once and reads only its own entries`,
      slow,
      async () => {
        await served();
        await getJson<IsolateRecord>(app, "/_record"); // start from an empty record
        const run = crypto.randomUUID().slice(0, 8);
        const tokenFor = (seq: number) => `${run}-${seq}`;
        const reports = await driveLoad(async (seq, signal) => {
          const response = await fetch(url(app, `/work?seq=${seq}`), {
            headers: { "x-token": tokenFor(seq) },
            signal,
          });
          const body = await response.text();
          if (response.status !== 200) {
            throw new Error(`Request ${seq} failed with ${response.status}: ${body}`);
          }
          return JSON.parse(body) as Report;
        }, { total: REQUESTS, concurrency: IN_FLIGHT, deadline: 90_000 });
        const record = await getJson<IsolateRecord>(app, "/_record");

        const problems: string[] = [];
        const distinct = Object.keys(expectedCalls(0)).length;
        reports.forEach((report, seq) => {
          const token = tokenFor(seq);
          if (report.token !== token) {
            problems.push(`request ${seq} read the header ${report.token}`);
          }
          const expected = {
            self: token,
            other: `${token}/other`,
            none: "<none>",
            branch0: `${token}/branch0`,
            branch1: `${token}/branch1`,
          };
          const foreign = report.reads.filter(([place, read]) => read !== expected[place]);
          if (foreign.length > 0) {
            problems.push(`cross-request read: request ${seq} got ${brief(foreign)}`);
          }
          const failed = Object.entries(report.checks).filter(([, ok]) => !ok).map(([name]) =>
            name
          );
          if (failed.length > 0) problems.push(`request ${seq} failed ${brief(failed)}`);
          // Calls that shared an in-flight promise are joins, the others hits.
          const { hits, misses, joins, entries } = report;
          if (
            misses !== distinct || hits + joins !== report.calls - distinct ||
            entries !== distinct
          ) {
            const stats = JSON.stringify({ hits, misses, joins, entries });
            problems.push(`request ${seq} has stats ${stats}`);
          }
        });
        const ids = new Set(reports.map((report) => report.scopeId));
        if (ids.size !== REQUESTS || ids.has(null)) {
          problems.push(`${REQUESTS} requests had ${ids.size} scope ids`);
        }

        // Every real execution, per request: its own calls once each, and each nested scope's
        // one call; scopes for no request ran getFlags once per request between them.
        const executions = { ...record.executions };
        for (let seq = 0; seq < REQUESTS; seq++) {
          const token = tokenFor(seq);
          const user = { [`getUser(${seq % 7})`]: 1 };
          const expected: Record<string, Record<string, number>> = {
            [token]: expectedCalls(seq),
            [`${token}/other`]: user,
            [`${token}/branch0`]: user,
            [`${token}/branch1`]: user,
          };
          for (const [key, calls] of Object.entries(expected)) {
            if (!isDeepStrictEqual(executions[key], calls)) {
              problems.push(`${key} ran ${JSON.stringify(executions[key])}, not each call once`);
            }
            delete executions[key];
          }
        }
        const none = executions["<none>"];
        delete executions["<none>"];
        if (!isDeepStrictEqual(none, { "getFlags()": REQUESTS })) {
          problems.push(`scopes for no request ran ${JSON.stringify(none)}`);
        }
        const strays = Object.keys(executions);
        if (strays.length > 0) problems.push(`executions for unknown tokens ${brief(strays)}`);
        if (record.live !== 0) problems.push(`${record.live} scopes still open after the load`);

        assert.deepEqual(
          problems.slice(0, 10),
          [],
          `${problems.length} problems; workerd said:\n${workerd!.log().slice(-2_000)}`,
        );
        // The load only tests isolation if the handlers really overlapped in the isolate.
        assert.ok(
          record.maxInFlight > IN_FLIGHT / 2,
          `at most ${record.maxInFlight} handlers at once`,
        );
      },
    );

    test(
      `${app}: ${BATCH_REQUESTS} requests, ${BATCH_IN_FLIGHT} in flight, each loads through one batch of its own, answered as a Map`,
      slow,
      async () => {
        await served();
        const run = crypto.randomUUID().slice(0, 8);
        const reports = await driveLoad(async (seq, signal) => {
          const response = await fetch(url(app, `/batch?seq=${seq}`), {
            headers: { "x-token": `${run}-${seq}` },
            signal,
          });
          const body = await response.text();
          if (response.status !== 200) {
            throw new Error(`Request ${seq} failed with ${response.status}: ${body}`);
          }
          return JSON.parse(body) as BatchReport;
        }, { total: BATCH_REQUESTS, concurrency: BATCH_IN_FLIGHT, deadline: 90_000 });
        const names = ["Ada", "Bob", "Cy", "Di", "Ed"];
        const problems: string[] = [];
        reports.forEach((report, seq) => {
          const token = `${run}-${seq}`;
          const [a, b, c] = [seq % 5, (seq + 1) % 5, (seq + 2) % 5];
          const expected: BatchReport = {
            token,
            names: [names[a], names[b], names[a], null, names[c]],
            // The load made one promise job later is in the tick's batch; cache: false sends
            // key 7 once for its two loads in one batch, and again for the later load.
            batches: [
              ["getUser", token, [a + 1, b + 1, 99, c + 1]],
              ["fresh", token, [7]],
              ["fresh", token, [7]],
            ],
            fresh: [`${token}:7`, `${token}:7`, `${token}:7`],
            tables: ["getUser:4:1", "fresh:0:2"],
          };
          if (!isDeepStrictEqual(report, expected)) {
            problems.push(`request ${seq}: ${JSON.stringify(report)}`);
          }
        });
        assert.deepEqual(
          problems.slice(0, 5),
          [],
          `${problems.length} problems; workerd said:\n${workerd!.log().slice(-2_000)}`,
        );
      },
    );

    test(`${app}: a streaming response keeps its scope until the body ends`, slow, async () => {
      await served();
      const token = `stream-${crypto.randomUUID()}`;
      const response = await fetch(url(app, "/stream?seq=3"), { headers: { "x-token": token } });
      assert.equal(response.status, 200);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { done, value } = await reader.read();
        assert.equal(done, false, "the body ended before its first line");
        text += value;
      }
      // The last line waits for /release, so the body is still open here.
      assert.deepEqual(await getJson(app, `/ended?token=${token}`), { ended: false });
      await getJson(app, `/release?token=${token}`);
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        text += chunk.value;
      }
      const lines = text.trim().split("\n").map((line) => JSON.parse(line));
      assert.equal(lines.length, 3);
      const scopeId = lines[0].scopeId;
      assert.notEqual(scopeId, null);
      for (const line of lines) {
        assert.deepEqual(line, { line: line.line, scopeId, sameUser: true, token, ended: false });
      }
      assert.deepEqual(await getJson(app, `/ended?token=${token}`), { ended: true });
    });

    test(`${app}: a handler that throws ends its scope`, slow, async () => {
      await served();
      const token = `throw-${crypto.randomUUID()}`;
      const response = await fetch(url(app, "/throw?seq=1"), { headers: { "x-token": token } });
      await response.text();
      assert.equal(response.status, 500);
      assert.deepEqual(await getJson(app, `/ended?token=${token}`), { ended: true });
    });
  }

  test(
    `channels: ${REQUESTS} requests, ${IN_FLIGHT} in flight, publish exact counts on every channel`,
    slow,
    async () => {
      await served();
      await getJson<ChannelCounts>("channels", "/_channels?reset");
      const run = crypto.randomUUID().slice(0, 8);
      const bodies = await driveLoad(async (seq, signal) => {
        const response = await fetch(url("channels", "/work"), {
          headers: { "x-token": `${run}-${seq}` },
          signal,
        });
        return await response.text();
      }, { total: REQUESTS, concurrency: IN_FLIGHT, deadline: 90_000 });
      bodies.forEach((body, seq) => assert.equal(body, `${run}-${seq}`));
      // A scope ends once its body has been sent, which the client may see a moment earlier.
      let seen = await getJson<ChannelCounts>("channels", "/_channels");
      for (let polls = 0; seen.counts["reqcache:scope:end"] !== REQUESTS && polls < 100; polls++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        seen = await getJson<ChannelCounts>("channels", "/_channels");
      }
      assert.deepEqual(seen.counts, {
        "reqcache:scope:start": REQUESTS,
        "reqcache:scope:end": REQUESTS,
        "reqcache:call getUser miss": REQUESTS,
        "reqcache:call getUser join": REQUESTS,
        "reqcache:call getUser hit": REQUESTS,
        "reqcache:call double miss": REQUESTS,
        "reqcache:call double hit": REQUESTS,
      });
      assert.deepEqual(seen.problems.slice(0, 5), []);
      assert.ok(seen.maxInFlight > IN_FLIGHT / 2, `at most ${seen.maxInFlight} handlers at once`);
    },
  );

  test(
    "bare: openCacheScope with no wrapper throws the TypeError that names the fix",
    slow,
    async () => {
      await served();
      assert.deepEqual(await getJson("bare", "/open"), {
        name: "TypeError",
        message:
          "Cannot open a cache scope: this runtime has no AsyncLocalStorage.enterWith (workerd), and no run context surrounds the call; wrap the handler with withCacheScope(handler), use the cacheScope() middleware, or call runInCacheScope(request, fn)",
        cause: "asyncLocalStorage.enterWith() is not implemented",
        scopeAfter: null,
      });
    },
  );

  for (const app of ["bare", "fetch"] as const) {
    test(
      `${app}: createWorkerPool and spawnWorker fail when called, with a TypeError whose cause is workerd's error`,
      slow,
      async () => {
        await served();
        const refusal = (action: string) => ({
          name: "TypeError",
          message:
            `Cannot ${action}: this runtime could not start a worker from file:///tasks.js (The Worker method is not implemented); if it has no workers (workerd), run the work in the request instead`,
          cause: "The Worker method is not implemented",
        });
        assert.deepEqual(await getJson(app, "/pool"), {
          createWorkerPool: refusal("create a worker pool"),
          spawnWorker: refusal("spawn a worker"),
        });
      },
    );
  }

  test(
    "bare: runInCacheScope caches without a wrapper, and calls outside any scope run uncached",
    slow,
    async () => {
      await served();
      assert.deepEqual(await getJson("bare", "/run"), { hits: 1, misses: 1 });
      assert.deepEqual(await getJson("bare", "/uncached"), { runs: 2 });
    },
  );
});
