/**
 * The options of every server integration ({@linkcode withCacheScope} and the `cacheScope()` of
 * Hono, Express, Fastify and Koa), next to the one check that all of them run when they are made.
 */
import { checkOptionNames, describe } from "../_errors.ts";

/**
 * Options of {@linkcode withCacheScope} and of every `cacheScope()` (Hono, Express, Fastify, Koa).
 * On Express, Fastify and Koa the end of the response is the `node:http` response's `close`,
 * whatever the body.
 */
export interface CacheScopeOptions {
  /**
   * Keep the scope open until the response body has been sent (read to its end, errored, or
   * cancelled because the client went away), so code that streams the body still uses the
   * request's cache. Where the server gives no signal that a response was sent, a body that
   * runs no code while it is sent (a string, bytes, JSON, no body) ends the scope when the
   * handler returns wherever the runtime tells it apart without making a stream of it (Deno,
   * Bun). Set it to `false` to end the scope as soon as the handler returns for every body: the
   * response is then passed through untouched, which saves reading a body that may be a stream
   * (every body on Node and workerd) through a wrapping stream where the server gives no such
   * signal: `Bun.serve`, workerd, in-process `app.fetch` (see the README's benchmark table).
   *
   * @default {true}
   */
  waitForBody?: boolean;
  /**
   * Add a `Server-Timing: reqcache;desc="hits=H misses=M joins=J"` header with the request's
   * cache hits, misses and joins up to the moment the handler returned.
   *
   * @default {false}
   */
  serverTiming?: boolean;
}

/** What a server integration does with the response before the scope ends (validated once). */
export interface ResponseScopeOptions {
  waitForBody: boolean;
  serverTiming: boolean;
}

const optionNames = ["waitForBody", "serverTiming"];

/** Checks the options once, when the wrapper or middleware is made. */
export function getValidCacheScopeOptions(
  options: CacheScopeOptions | undefined,
  action: string,
): ResponseScopeOptions {
  if (options === undefined) return { waitForBody: true, serverTiming: false };
  const { waitForBody = true, serverTiming = false }: CacheScopeOptions = checkOptionNames(
    options,
    optionNames,
    action,
  );
  for (const [name, value] of [["waitForBody", waitForBody], ["serverTiming", serverTiming]]) {
    if (typeof value !== "boolean") {
      throw new TypeError(
        `Cannot ${action}: ${name} must be a boolean, received ${describe(value)}`,
      );
    }
  }
  return { waitForBody, serverTiming };
}
