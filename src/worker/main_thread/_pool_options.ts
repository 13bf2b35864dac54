/**
 * The pool's options, and each call's, checked once, up front: the pool's own paths then deal
 * only with valid values.
 */
import { checkOptionNames, describe } from "../../_errors.ts";
import type { CacheScope } from "../../core/cache_scope.ts";
import type { MapOptions, RunOptions, WorkerPoolOptions } from "../worker_pool_api.ts";

const optionNames = ["size", "maxQueue", "context", "cancelGraceMs"];

/** A pool's options, checked, with their defaults. */
export interface ValidOptions {
  size: number;
  maxQueue: number;
  context: (scope: CacheScope) => object | undefined;
  cancelGraceMs: number;
}

/** The worker module's URL, from a `URL` or an absolute URL string. */
export function validUrl(url: string | URL, action: string): URL {
  if (url instanceof URL) return url;
  if (typeof url === "string" && URL.canParse(url)) return new URL(url);
  throw new TypeError(
    `Cannot ${action}: url must be a URL or an absolute URL string, such as new URL("./tasks.ts", import.meta.url), received ${
      describe(url)
    }`,
  );
}

/** The `context` option's default: the request's `url` and `method`, when they are strings. */
export function defaultContext(scope: CacheScope): object | undefined {
  const request = scope.request as { url?: unknown; method?: unknown } | undefined;
  if (request === undefined || typeof request.url !== "string") return undefined;
  return typeof request.method === "string"
    ? { url: request.url, method: request.method }
    : { url: request.url };
}

/** Checks a pool's options once, up front; `action` says which call got them. */
export function getValidOptions(
  options: WorkerPoolOptions | undefined,
  action: string,
): ValidOptions {
  const own: WorkerPoolOptions = options === undefined
    ? {}
    : checkOptionNames(options, optionNames, action);
  const hardware = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  const {
    size = typeof hardware === "number" && hardware > 0 ? hardware : 4,
    maxQueue = 1024,
    context = defaultContext,
    cancelGraceMs = 300,
  } = own;
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1) {
    const error = typeof size === "number" ? RangeError : TypeError;
    throw new error(
      `Cannot ${action}: size must be a positive integer, received ${describe(size)}`,
    );
  }
  if (
    typeof maxQueue !== "number" ||
    !(maxQueue === Infinity || (Number.isInteger(maxQueue) && maxQueue >= 0))
  ) {
    const error = typeof maxQueue === "number" ? RangeError : TypeError;
    throw new error(
      `Cannot ${action}: maxQueue must be a non-negative integer or Infinity, received ${
        describe(maxQueue)
      }`,
    );
  }
  if (typeof context !== "function") {
    throw new TypeError(
      `Cannot ${action}: context must be a function of the scope, received ${describe(context)}`,
    );
  }
  if (
    typeof cancelGraceMs !== "number" || Number.isNaN(cancelGraceMs) || cancelGraceMs < 0
  ) {
    const error = typeof cancelGraceMs === "number" ? RangeError : TypeError;
    throw new error(
      `Cannot ${action}: cancelGraceMs must be a non-negative number of milliseconds or Infinity, received ${
        describe(cancelGraceMs)
      }`,
    );
  }
  return { size, maxQueue, context, cancelGraceMs };
}

/** Checks the arguments of `pool.run`, and returns its signal. */
export function validRunCall(
  task: unknown,
  args: unknown,
  options: RunOptions | undefined,
): AbortSignal | undefined {
  if (typeof task !== "string") {
    throw new TypeError(
      `Cannot run a task: task must be a task's name, received ${describe(task)}`,
    );
  }
  if (!Array.isArray(args)) {
    throw new TypeError(
      `Cannot run task ${JSON.stringify(task)}: args must be the array of its arguments, received ${
        describe(args)
      }`,
    );
  }
  return validSignal(options, task);
}

function validSignal(
  options: RunOptions | undefined,
  task: string,
): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot run task ${JSON.stringify(task)}: options must be an object, received ${
        describe(options)
      }`,
    );
  }
  const { signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `Cannot run task ${JSON.stringify(task)}: signal must be an AbortSignal, received ${
        describe(signal)
      }`,
    );
  }
  return signal;
}

/** Checks the options of `pool.map`; `concurrency` defaults to the pool's size. */
export function validMapOptions(
  options: MapOptions | undefined,
  task: string,
  size: number,
): { concurrency: number; signal: AbortSignal | undefined } {
  const signal = validSignal(options, task);
  const concurrency = options?.concurrency ?? size;
  if (
    typeof concurrency !== "number" ||
    !(concurrency === Infinity || (Number.isInteger(concurrency) && concurrency > 0))
  ) {
    const error = typeof concurrency === "number" ? RangeError : TypeError;
    throw new error(
      `Cannot map task ${
        JSON.stringify(task)
      }: concurrency must be a positive integer or Infinity, received ${describe(concurrency)}`,
    );
  }
  return { concurrency, signal };
}
