import { uncalledFactoryError } from "./_uncalled_factory_error.ts";
import { endScopeLoggingErrors } from "./_end_scope_logging_errors.ts";
import { getValidCacheScopeOptions } from "./_cache_scope_options.ts";
import type { CacheScopeOptions } from "./_cache_scope_options.ts";
import {
  type NodeResponseLike,
  openNodeScope,
  readInFrame,
  runInFrame,
} from "./_node_response_scope.ts";
import { EndedBecause } from "../core/_end_reasons.ts";
import { storage } from "../core/_frame.ts";
import type { RunFrame } from "../core/_run_frame.ts";

export type { CacheScopeOptions };
export type { NodeResponseLike };

/** The part of Fastify's `FastifyRequest` that {@linkcode cacheScope} uses: any object. */
export type FastifyRequestLike = object;

/** The part of Fastify's `FastifyReply` that {@linkcode cacheScope} uses. */
export interface FastifyReplyLike {
  /** The `node:http` response. */
  readonly raw: NodeResponseLike;
}

/** A hook that Fastify calls with the request, the reply, and what to call when it is done. */
export type FastifyHookLike = (
  request: FastifyRequestLike,
  reply: FastifyReplyLike,
  done: () => void,
) => void;

/** An `onSend` hook: it also receives the payload, and passes it on. */
export type FastifyOnSendHookLike = (
  request: FastifyRequestLike,
  reply: FastifyReplyLike,
  payload: unknown,
  done: (error: null, payload: unknown) => void,
) => void;

/**
 * The part of a Fastify instance that the plugin uses. Fastify's own instance has it, so
 * `app.register(cacheScope())` type-checks while this package declares no dependency on
 * Fastify.
 */
export interface FastifyInstanceLike {
  /** Adds a request hook. */
  addHook(name: "onRequest" | "preValidation", hook: FastifyHookLike): unknown;
  /** Adds an `onSend` hook. */
  addHook(name: "onSend", hook: FastifyOnSendHookLike): unknown;
  /** Adds a property to every request. */
  decorateRequest(name: symbol, value: null): unknown;
}

/** A Fastify plugin: what {@linkcode cacheScope} returns. */
export type FastifyCacheScopePlugin = (
  instance: FastifyInstanceLike,
  options: unknown,
  done: (error?: Error) => void,
) => void;

const ACTION = "create the Fastify cacheScope() plugin";

/**
 * A Fastify plugin that gives every request its own context and cache scope:
 * `await app.register(cacheScope())`. It applies to every route of the instance it is
 * registered on, whatever the encapsulation (as a plugin wrapped with `fastify-plugin` does):
 * every hook registered after it (`preHandler`, `preSerialization`, ...) and the handler run in
 * the request's scope, `currentScope()` is the same scope in all of them, and `scope.request` is
 * Fastify's `request`.
 *
 * The scope ends when the response has been sent in full, so a streamed body
 * (`reply.send(readable)`) is read in the request's context and the code that produces it
 * still uses the request's cache. It ends as soon as the client goes away, and its
 * `cacheSignal()` then aborts. With `waitForBody: false` it ends when the handler's payload is
 * sent (`onSend`).
 *
 * @param options When the scope ends and what the response reports.
 * @returns The plugin.
 * @throws {TypeError} If an option has the wrong type or name; if `cacheScope` itself is given
 * to `app.register` instead of `cacheScope()`, the registration rejects with a `TypeError`.
 *
 * @example A Fastify app with one cache per request
 * ```ts
 * import Fastify from "fastify";
 * import { perRequestCache } from "@reqcache/core";
 * import { cacheScope } from "@reqcache/core/fastify";
 * import assert from "node:assert/strict";
 *
 * let queries = 0;
 * const getUser = perRequestCache(async (id: string) => ({ id, query: ++queries }));
 *
 * const app = Fastify();
 * await app.register(cacheScope({ serverTiming: true }));
 * app.get("/users/:id", async (request) => {
 *   const { id } = request.params as { id: string };
 *   await getUser(id);
 *   return await getUser(id);
 * });
 *
 * const url = await app.listen({ host: "127.0.0.1", port: 0 });
 * const response = await fetch(`${url}/users/42`);
 * assert.deepEqual(await response.json(), { id: "42", query: 1 });
 * assert.equal(response.headers.get("server-timing"), 'reqcache;desc="hits=1 misses=1 joins=0"');
 * await app.close();
 * ```
 */
export function cacheScope(options?: CacheScopeOptions): FastifyCacheScopePlugin {
  if (arguments.length > 1) {
    // Fastify is running the factory as the plugin: a plugin fails its registration by
    // rejecting (a throw would escape Fastify's loader as an uncaught exception).
    const error = uncalledFactoryError(ACTION, "app.register", "plugin", arguments);
    return Promise.reject(error) as never;
  }
  const valid = getValidCacheScopeOptions(options, ACTION);
  // Where the request's frame waits between Fastify's hooks: a property Fastify declares on
  // every request (`decorateRequest`), of this plugin instance alone.
  const opened = Symbol("reqcache.scope");
  type Opened = { [opened]: RunFrame | null };
  // A stream payload is read in the request's frame: Fastify pipes it from the handler's
  // context, but after backpressure Deno's `node:http` asks for more from outside it. A
  // request has no frame of ours when a hook registered before the plugin answered in
  // `onRequest` (auth, rate limit): Fastify still runs `onSend`, whose payload goes on as is.
  const onSend: FastifyOnSendHookLike = valid.waitForBody
    ? function readPayloadInScope(request, _reply, payload, done) {
      const run = (request as Opened)[opened];
      if (run !== null) readInFrame(payload, run.frame);
      done(null, payload);
    }
    : function endScopeOnSend(request, _reply, payload, done) {
      const run = (request as Opened)[opened];
      if (run !== null) endScopeLoggingErrors(run.handle, EndedBecause.handlerReturned);
      done(null, payload);
    };
  const plugin: FastifyCacheScopePlugin = function cacheScopePlugin(instance, _options, done) {
    instance.decorateRequest(opened, null);
    instance.addHook("onRequest", function openCacheScope(request, reply, next) {
      const run = openNodeScope(request, reply.raw, valid, false);
      (request as Opened)[opened] = run;
      storage.run(run.frame, next);
    });
    // Fastify reads a body from the request's `data` events and goes on from its `end`, in the
    // socket's context: the frame is entered again before validation, the first hook after.
    instance.addHook("preValidation", function enterCacheScope(request, _reply, next) {
      runInFrame((request as Opened)[opened]!.frame, next);
    });
    instance.addHook("onSend", onSend);
    done();
  };
  // What `fastify-plugin` sets: the plugin's hooks go to the instance it is registered on, not
  // to a child context of its own, so they apply to every route of that instance.
  Object.assign(plugin, {
    [Symbol.for("skip-override")]: true,
    [Symbol.for("fastify.display-name")]: "@reqcache/core/fastify",
    [Symbol.for("plugin-meta")]: { name: "@reqcache/core/fastify", fastify: "5.x" },
  });
  return plugin;
}
