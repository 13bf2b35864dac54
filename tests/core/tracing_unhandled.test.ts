/**
 * Subscribing must not change what the runtime reports: a miss's rejection that nobody handles
 * surfaces as an unhandled rejection with a `reqcache:compute` subscriber as without one, and a
 * handled one does not. Each case runs in a process of this test's own runtime
 * (`_unhandled_miss.ts`), since a test runner fails the running test on such a report.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const command: Record<string, string[]> = {
  deno: ["run", "--allow-read=.", "--allow-env"],
  bun: [],
  node: [],
};

/** What `_unhandled_miss.ts` reports, run by this runtime with the two switches. */
async function reportedUnhandled(subscribed: boolean, handled: boolean): Promise<string[]> {
  const args = [
    ...command[runtime],
    "tests/core/_unhandled_miss.ts",
    subscribed ? "yes" : "no",
    handled ? "yes" : "no",
  ];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(`${root}node_modules/.bin/${runtime}`, args, { cwd: root });
    let text = "";
    child.stdout!.on("data", (chunk) => text += chunk);
    child.stderr!.on("data", (chunk) => text += chunk);
    const timer = setTimeout(() => child.kill(), 60_000); // bounded: a hang fails the parse below
    child.once("error", reject);
    child.once("close", () => {
      clearTimeout(timer);
      resolve(text.trim());
    });
  });
  return JSON.parse(output.split("\n").at(-1)!);
}

for (const subscribed of [false, true]) {
  const who = subscribed ? "with a reqcache:compute subscriber" : "with nobody subscribed";

  test(`a miss's rejection that nobody handles is reported as unhandled ${who}`, {
    timeout: 90_000,
  }, async () => {
    assert.deepEqual(await reportedUnhandled(subscribed, false), ["lost 1"]);
  });

  test(`a miss's rejection that the caller handles is not reported ${who}`, {
    timeout: 90_000,
  }, async () => {
    assert.deepEqual(await reportedUnhandled(subscribed, true), []);
  });
}
