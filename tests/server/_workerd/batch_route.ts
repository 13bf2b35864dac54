/**
 * `/batch` of the fetch and Hono apps: `perRequestBatch` on workerd, inside the scope the app's
 * wrapper or middleware opened. One module-level function answers with a `Map` (DataLoader's
 * tick rule: `process.nextTick` with `nodejs_compat`, a timer with only `nodejs_als`), another
 * has `cache: false` and a `schedule` of its own. Each batch records the request it ran for,
 * read inside the batch function, so a batch shared by two requests would show. Bundled and
 * served by tests/server/workerd.test.ts.
 */
import { currentScope, perRequestBatch } from "../../../mod.ts";

/** What `/batch?seq=N` answers. */
export interface BatchReport {
  token: string;
  /** The names the Map answer gave the loads, `null` for the key it lacked. */
  names: (string | null)[];
  /** Each call of a batch function for this request: function, token seen inside, keys. */
  batches: [string, string, number[]][];
  /** What the `cache: false` loads resolved to. */
  fresh: string[];
  /** `scope.stats.functions` as `name:entries:batches` for each function. */
  tables: string[];
}

const calls = new Map<string, [string, string, number[]][]>();

function tokenOfScope(): string {
  const request = currentScope()?.request;
  return request instanceof Request ? request.headers.get("x-token") ?? "<no token>" : "<none>";
}

function record(fn: string, keys: readonly number[]): string {
  const token = tokenOfScope();
  let list = calls.get(token);
  if (list === undefined) calls.set(token, list = []);
  list.push([fn, token, [...keys]]);
  return token;
}

const users = new Map([[1, "Ada"], [2, "Bob"], [3, "Cy"], [4, "Di"], [5, "Ed"]]);

/** Rows in reverse key order, as a database might send them; no row for an unknown id. */
const getUser = perRequestBatch(async (ids: readonly number[]) => {
  const token = record("getUser", ids);
  const rows = [...ids].sort((a, b) => b - a).filter((id) => users.has(id));
  return new Map(rows.map((id) => [id, { id, name: users.get(id)!, token }]));
}, { name: "getUser" });

const fresh = perRequestBatch((ids: readonly number[]) => {
  const token = record("fresh", ids);
  return ids.map((id) => `${token}:${id}`);
}, { name: "fresh", cache: false, schedule: (dispatch) => void setTimeout(dispatch, 1) });

export async function batchRoute(request: Request, seq: number): Promise<Response> {
  const token = request.headers.get("x-token") ?? "<no token>";
  const ids = [(seq % 5) + 1, ((seq + 1) % 5) + 1, (seq % 5) + 1, 99];
  // One resolver awaits before it loads: DataLoader's rule still takes it into the batch.
  const later = Promise.resolve().then(() => getUser(((seq + 2) % 5) + 1));
  const loaded = await Promise.all([...ids.map((id) => getUser(id)), later]);
  for (const user of loaded) {
    if (user !== undefined && user.token !== token) throw new Error(`read ${user.token}'s row`);
  }
  const first = await Promise.all([fresh(7), fresh(7)]);
  const again = await fresh(7);
  const scope = currentScope()!;
  const report: BatchReport = {
    token,
    names: loaded.map((user) => user?.name ?? null),
    batches: calls.get(token) ?? [],
    fresh: [...first, again],
    tables: scope.stats.functions.map((row) => `${row.name}:${row.entries}:${row.batches}`),
  };
  calls.delete(token);
  return Response.json(report);
}
