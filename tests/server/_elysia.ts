/**
 * An Elysia app on a real `Bun.serve` (`app.listen`) on 127.0.0.1 and an ephemeral port, for
 * the Elysia tests (Bun only: Elysia's `listen` needs Bun). `await using server = …` stops it,
 * its open connections included, whichever way the test ends.
 */
import type { Listening } from "./_servers.ts";

/** The part of an Elysia app that serving it takes. */
interface ListeningApp {
  listen(options: { hostname: string; port: number }): unknown;
  readonly server: { readonly port?: number } | null;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** Serves `app` with `app.listen` (Bun.serve) until disposed. */
export function listenElysia(app: object): Listening {
  const listening = app as ListeningApp;
  listening.listen({ hostname: "127.0.0.1", port: 0 });
  return {
    url: `http://127.0.0.1:${listening.server!.port}/`,
    async [Symbol.asyncDispose]() {
      await listening.stop(true);
    },
  };
}

/** The phrase a scope's signal ended with, without "cache scope <id> ended: ". */
export function whyEnded(signal: AbortSignal): string {
  return (signal.reason as Error).message.replace(/^cache scope \S+ ended: /, "");
}
