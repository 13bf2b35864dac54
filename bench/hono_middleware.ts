/**
 * What `cacheScope()` costs a Hono hello-world request, in process (`app.fetch` and reading the
 * body, no sockets), against no middleware and a bare `als.run` middleware, with
 * `waitForBody: true` (the default) and `false`; and two other ways of tracking the body, as
 * candidates for a cheaper default. Interleaved rounds, median per request.
 *
 * `deno run -A bench/hono_middleware.ts`, `bun bench/hono_middleware.ts`,
 * `node bench/hono_middleware.ts` (`ROUNDS=…` and `PER_ROUND=…` to change the sample).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { Hono, type MiddlewareHandler } from "hono";
import { perRequestCache, runInCacheScope } from "../mod.ts";
import { cacheScope } from "../hono.ts";

const env = (name: string, fallback: number) =>
  Number(globalThis.process?.env?.[name] ?? fallback) || fallback;
const ROUNDS = env("ROUNDS", 15);
const PER_ROUND = env("PER_ROUND", 2_000);

const flags = perRequestCache(() => ({ beta: true }));

function app(middleware: MiddlewareHandler | undefined): Hono {
  const app = new Hono();
  if (middleware !== undefined) app.use(middleware);
  app.get("/", (c) => {
    flags();
    return c.text("Hello Hono!");
  });
  return app;
}

const als = new AsyncLocalStorage<object>();

/**
 * A candidate: the scope held open by a pending `runInCacheScope` promise until an identity
 * TransformStream flushes or is cancelled (no frame around the body's pulls).
 */
const transformTracked: MiddlewareHandler = (c, next) =>
  new Promise<void>((done, fail) => {
    void runInCacheScope(c.req.raw, () =>
      new Promise<void>((end) => {
        next().then(() => {
          const body = c.res.body;
          if (body === null) {
            end();
            return done();
          }
          const tracked = body.pipeThrough(
            new TransformStream<Uint8Array, Uint8Array>(
              { flush: () => end(), cancel: () => end() } as Transformer<Uint8Array, Uint8Array>,
            ),
          );
          const response = new Response(tracked, c.res);
          c.res = undefined as unknown as Response;
          c.res = response;
          done();
        }, (error) => {
          end();
          fail(error);
        });
      }));
  });

const variants: [string, Hono][] = [
  ["no middleware", app(undefined)],
  ["als.run middleware", app((_c, next) => als.run({}, next))],
  ["cacheScope()", app(cacheScope() as unknown as MiddlewareHandler)],
  [
    "cacheScope({ waitForBody: false })",
    app(cacheScope({ waitForBody: false }) as unknown as MiddlewareHandler),
  ],
  ["runInCacheScope + TransformStream", app(transformTracked)],
];

async function once(hono: Hono): Promise<void> {
  const response = await hono.fetch(new Request("http://localhost/"));
  await response.arrayBuffer();
}

const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (const [, hono] of variants) for (let i = 0; i < 500; i++) await once(hono);
for (let round = 0; round < ROUNDS; round++) {
  // A different order each round, so that no variant always runs right after another.
  const order = variants.map((variant, i) => [variant, (i * 7 + round * 3) % 11] as const)
    .sort((a, b) => a[1] - b[1]).map(([variant]) => variant);
  for (const [name, hono] of order) {
    const start = performance.now();
    for (let i = 0; i < PER_ROUND; i++) await once(hono);
    samples.get(name)!.push((performance.now() - start) * 1000 / PER_ROUND);
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
};
const base = median(samples.get("no middleware")!);
const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
console.log(`${runtime}: ${ROUNDS} rounds × ${PER_ROUND} requests, median µs per request`);
for (const [name, values] of samples) {
  const us = median(values);
  console.log(`${name.padEnd(36)} ${us.toFixed(2).padStart(7)} µs  ×${(us / base).toFixed(2)}`);
}

// The tracking alone, without Hono: a text body read to its end as it is, through a pulling
// ReadableStream like _response_scope.ts (read-ahead 1, and 0), and through a TransformStream.
const bodies: [string, () => Response][] = [
  ["plain body", () => new Response("Hello Hono!")],
  ["pull stream (as now)", () => pulled(new Response("Hello Hono!"), 1)],
  ["pull stream, highWaterMark 0", () => pulled(new Response("Hello Hono!"), 0)],
  ["TransformStream", () => {
    const response = new Response("Hello Hono!");
    return new Response(response.body!.pipeThrough(new TransformStream()), response);
  }],
];

function pulled(response: Response, highWaterMark: number): Response {
  const reader = response.body!.getReader();
  return new Response(
    new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = await als.run({}, () => reader.read());
        if (chunk.done) controller.close();
        else controller.enqueue(chunk.value);
      },
      cancel: (reason) => reader.cancel(reason),
    }, { highWaterMark }),
    response,
  );
}

const bodySamples = new Map<string, number[]>(bodies.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, make] of round % 2 === 0 ? bodies : [...bodies].reverse()) {
    const start = performance.now();
    for (let i = 0; i < PER_ROUND; i++) await make().arrayBuffer();
    bodySamples.get(name)!.push((performance.now() - start) * 1000 / PER_ROUND);
  }
}
const plain = median(bodySamples.get("plain body")!);
for (const [name, values] of bodySamples) {
  const us = median(values);
  console.log(`${name.padEnd(36)} ${us.toFixed(2).padStart(7)} µs  +${(us - plain).toFixed(2)} µs`);
}
