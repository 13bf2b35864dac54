/**
 * What the runtime's own fetch server does when a client goes away while the handler runs, and
 * after a normal response: when `request.signal` aborts, and when `info.completed` (Deno)
 * settles. The facts behind the README's "What each server does when the client goes away".
 *
 * `deno run -A bench/client_disconnect.ts`, `bun bench/client_disconnect.ts`,
 * `node bench/client_disconnect.ts` (Node 24: `@hono/node-server`).
 */
import { serve } from "@hono/node-server";

type Info = { completed?: Promise<void> };
const events: string[] = [];
const start = Date.now();
const note = (what: string) => events.push(`${String(Date.now() - start).padStart(5)} ms  ${what}`);
let release!: () => void;

async function handler(request: Request, info?: unknown): Promise<Response> {
  const path = new URL(request.url).pathname;
  request.signal.addEventListener("abort", () => note(`${path}: request.signal aborted`));
  (info as Info | undefined)?.completed?.then(
    () => note(`${path}: info.completed resolved`),
    (error) => note(`${path}: info.completed rejected (${error})`),
  );
  if (path === "/slow") {
    await new Promise<void>((resolve) => release = resolve);
    note(`${path}: the handler returns`);
  }
  return new Response("ok");
}

const isDeno = "Deno" in globalThis;
const bun = (globalThis as {
  Bun?: {
    serve(o: object): { port: number; stop(force: boolean): Promise<void> };
    version: string;
  };
}).Bun;
let port: number;
let stop: () => Promise<unknown>;
if (isDeno) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  port = server.addr.port;
  stop = () => server.shutdown();
} else if (bun !== undefined) {
  const server = bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
  port = server.port;
  stop = () => server.stop(true);
} else {
  const ready = Promise.withResolvers<number>();
  const server = serve(
    { fetch: handler, hostname: "127.0.0.1", port: 0 },
    (info) => ready.resolve(info.port),
  );
  port = await ready.promise;
  stop = () => new Promise((resolve) => server.close(resolve));
}
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await (await fetch(`http://127.0.0.1:${port}/normal`)).text();
note("/normal: the client read the whole response");
await pause(200);
const client = new AbortController();
const slow = fetch(`http://127.0.0.1:${port}/slow`, { signal: client.signal }).catch(() => {});
await pause(100);
note("/slow: the client goes away");
client.abort();
await slow;
await pause(300);
release();
await pause(300);
const runtime = isDeno
  ? `Deno ${Deno.version.deno}, Deno.serve`
  : bun !== undefined
  ? `Bun ${bun.version}, Bun.serve`
  : `Node ${process.versions.node}, @hono/node-server`;
console.log(`${runtime}\n${events.join("\n")}`);
await stop();
