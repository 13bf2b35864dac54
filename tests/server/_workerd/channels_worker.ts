/**
 * The diagnostics channels on workerd (flag `nodejs_compat`): a `withCacheScope` handler whose
 * isolate subscribes to every `reqcache:` channel and counts what it hears, per outcome and per
 * request. `/work` makes an async miss, a join on it, a hit, and a synchronous miss and its hit;
 * `/_channels` returns the counts and what did not add up (`?reset` starts them afresh). Bundled and
 * served by tests/server/workerd.test.ts.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import {
  type CacheCallMessage,
  type CacheScopeEndMessage,
  type CacheScopeStartMessage,
  perRequestCache,
  withCacheScope,
} from "../../../mod.ts";

/** What `/_channels` answers. */
export interface ChannelCounts {
  /** Messages per channel, and per outcome for `reqcache:call` ("reqcache:call getUser join"). */
  counts: Record<string, number>;
  /** Messages that named another request's scope, or stats that did not add up. */
  problems: string[];
  /** The most `/work` handlers that were running at once. */
  maxInFlight: number;
}

/** workerd's scheduler global, which Deno's and Node's types do not declare. */
const { scheduler } = globalThis as unknown as {
  scheduler: { wait(ms: number): Promise<void> };
};

let counts: Record<string, number> = {};
let problems: string[] = [];
let inFlight = 0;
let maxInFlight = 0;

const tokenOf = (request: object | undefined) =>
  (request as Request | undefined)?.headers.get("x-token") ?? "<none>";
const count = (what: string) => counts[what] = (counts[what] ?? 0) + 1;

// Only the scopes of /work requests (they carry a token) count: /_channels has one too.
diagnosticsChannel.subscribe("reqcache:scope:start", (message) => {
  if (tokenOf((message as CacheScopeStartMessage).scope.request) !== "<none>") {
    count("reqcache:scope:start");
  }
});
diagnosticsChannel.subscribe("reqcache:scope:end", (message) => {
  const { scope, stats, reason } = message as CacheScopeEndMessage;
  if (tokenOf(scope.request) === "<none>") return;
  if (stats.hits !== 2 || stats.joins !== 1 || stats.misses !== 2 || !(reason instanceof Error)) {
    problems.push(`${tokenOf(scope.request)} ended with ${JSON.stringify(stats)}, ${reason}`);
  }
  count("reqcache:scope:end");
});
diagnosticsChannel.subscribe("reqcache:call", (message) => {
  const { scope, name, outcome, result } = message as CacheCallMessage;
  const token = tokenOf(scope.request);
  if (name === "getUser") {
    void (result as Promise<{ token: string }>).then((user) => {
      if (user.token !== token) problems.push(`${token} was given ${user.token}'s user`);
    });
  }
  count(`reqcache:call ${name} ${outcome}`);
});

const getUser = perRequestCache(async (token: string) => {
  await scheduler.wait(1);
  return { token };
}, { name: "getUser" });
const double = perRequestCache((n: number) => n * 2, { name: "double" });

async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/_channels") {
    const answer: ChannelCounts = { counts, problems, maxInFlight };
    if (url.searchParams.has("reset")) {
      counts = {};
      problems = [];
      maxInFlight = 0;
    }
    return Response.json(answer);
  }
  if (url.pathname !== "/work") return new Response("Not Found", { status: 404 });
  maxInFlight = Math.max(maxInFlight, ++inFlight);
  try {
    const token = request.headers.get("x-token")!;
    const [a, b] = await Promise.all([getUser(token), getUser(token)]);
    const c = await getUser(token);
    double(1);
    double(1);
    return new Response(a === b && b === c ? a.token : "<not shared>");
  } finally {
    inFlight--;
  }
}

export default { fetch: withCacheScope(handle) };
