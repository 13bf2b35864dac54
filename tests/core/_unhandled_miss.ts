/**
 * Run as its own process by `tracing_unhandled.test.ts` (a test runner fails the running test on
 * an unhandled rejection, the very report looked for here). Arguments: "subscribed" or not,
 * "handled" or not. Makes one miss whose rejection is the caller's alone (the function drops its
 * own entry while it runs, so the cache does not follow its promise), and prints one JSON line:
 * the messages of the rejections reported as unhandled.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import { perRequestCache, runInCacheScope } from "../../mod.ts";

const [subscribed, handled] = process.argv.slice(-2).map((arg) => arg === "yes");
const unhandled: string[] = [];
process.on("unhandledRejection", (reason) => unhandled.push((reason as Error).message));

const dropping = perRequestCache(async (n: number): Promise<never> => {
  dropping.invalidate(n);
  await Promise.resolve();
  throw new Error(`lost ${n}`);
}, { name: "dropping" });

const channel = diagnosticsChannel.tracingChannel("reqcache:compute");
if (subscribed) channel.subscribe({ start() {}, end() {}, asyncEnd() {}, error() {} });
const settled = runInCacheScope({ url: "/" }, () => {
  const miss = dropping(1);
  return handled ? miss.catch(() => "handled") : "left alone";
});
await settled;
// A rejection is reported once the promise jobs run out, before timers: two turns of the loop
// are past every report this miss can cause.
for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
console.log(JSON.stringify(unhandled));
