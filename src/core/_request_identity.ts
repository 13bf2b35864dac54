import { describe } from "../_errors.ts";

/**
 * What decides that two openings are for the same request: the object's identity, except that
 * a wrapper that carries the platform `Request` as `raw` (Hono's `c.req`) counts as that
 * `Request`, so `openCacheScope(c.req)` and `openCacheScope(c.req.raw)` join one scope.
 */
export function requestIdentity(request: unknown, action: string): object | undefined {
  if (request === undefined) return undefined;
  if (request === null || (typeof request !== "object" && typeof request !== "function")) {
    throw new TypeError(
      `Cannot ${action}: request must be an object (the incoming request) or undefined, received ${
        describe(request)
      }`,
    );
  }
  const raw = (request as { raw?: unknown }).raw;
  // `raw` first: on Node the global `Request` is a getter, too slow to read on every opening.
  if (
    typeof raw === "object" && raw !== null && typeof Request === "function" &&
    raw instanceof Request && !(request instanceof Request)
  ) {
    return raw;
  }
  return request;
}
