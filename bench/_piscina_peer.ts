/**
 * The pool against its peer, piscina 5 (issue 23): the same trivial echo task, the same thread
 * count, each pool through its own `run`. Two ways to load a pool of two threads: 3,000 tasks
 * in flight at once (what a busy server does), and one task at a time (the latency of a
 * request's one task). Ours runs outside any scope and in a new scope per task (a request with
 * one task: the task carries the scope's opening in, and a later message its end); the target
 * is about the second, which is what a server pays.
 *
 * piscina is loaded where it runs: a runtime that cannot load it or run its task is skipped,
 * and the reason printed.
 */
import { runInCacheScope } from "../mod.ts";
import type { WorkerPool } from "../worker.ts";
import type { tasks } from "./_echo_tasks.ts";

/** Threads in each pool. */
export const PEER_THREADS = 2;
/** Tasks in flight at once in the "in flight" cases. */
export const IN_FLIGHT = 3_000;

export const PISCINA_IN_FLIGHT = `piscina.run, ${IN_FLIGHT} in flight`;
export const OURS_IN_FLIGHT = `pool.run, ${IN_FLIGHT} in flight, outside any scope`;
export const OURS_SCOPED_IN_FLIGHT = `pool.run, ${IN_FLIGHT} in flight, one new scope per task`;
export const PISCINA_SEQUENTIAL = "piscina.run, one at a time";
export const OURS_SEQUENTIAL = "pool.run, one at a time, outside any scope";
export const OURS_SCOPED_SEQUENTIAL = "pool.run, one at a time, one new scope per task";

/** The part of piscina used here. */
export interface PiscinaPool {
  run(value: number): Promise<unknown>;
  destroy(): Promise<void>;
}

const PISCINA_ECHO = new URL("./_piscina_echo.ts", import.meta.url);
const request = { url: "http://localhost/bench" };

/**
 * A piscina of {@linkcode PEER_THREADS} threads that has answered one task, or why there is
 * none on this runtime.
 */
export async function startPiscina(): Promise<PiscinaPool | string> {
  let pool: PiscinaPool;
  try {
    const { Piscina } = await import("piscina");
    pool = new Piscina({
      filename: PISCINA_ECHO.href,
      minThreads: PEER_THREADS,
      maxThreads: PEER_THREADS,
    }) as unknown as PiscinaPool;
  } catch (error) {
    return `piscina does not load here: ${(error as Error).message}`;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const answer = await Promise.race([
      pool.run(7),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("no answer within 30 s")), 30_000);
      }),
    ]);
    if (answer !== 7) throw new Error(`its echo task answered ${answer}`);
    return pool;
  } catch (error) {
    void pool.destroy().catch(() => {});
    return `piscina does not run its task here: ${(error as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

/** One benchmark: `count` tasks, all in flight at once or each awaited before the next. */
export interface PeerCase {
  readonly name: string;
  readonly count: number;
  run(count: number): Promise<void>;
}

/** The six cases: piscina, ours outside any scope, ours in a new scope per task; two ways. */
export function peerCases(piscina: PiscinaPool, pool: WorkerPool<typeof tasks>): PeerCase[] {
  const ours = (i: number) => pool.run("echo", [i]);
  const oursScoped = (i: number) => runInCacheScope(request, () => pool.run("echo", [i]));
  const theirs = (i: number) => piscina.run(i);
  const inFlight = (name: string, task: (i: number) => Promise<unknown>): PeerCase => ({
    name,
    count: IN_FLIGHT,
    async run(count) {
      const all: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) all.push(task(i));
      await Promise.all(all);
    },
  });
  const sequential = (name: string, task: (i: number) => Promise<unknown>): PeerCase => ({
    name,
    count: IN_FLIGHT,
    async run(count) {
      for (let i = 0; i < count; i++) await task(i);
    },
  });
  return [
    inFlight(PISCINA_IN_FLIGHT, theirs),
    inFlight(OURS_IN_FLIGHT, ours),
    inFlight(OURS_SCOPED_IN_FLIGHT, oursScoped),
    sequential(PISCINA_SEQUENTIAL, theirs),
    sequential(OURS_SEQUENTIAL, ours),
    sequential(OURS_SCOPED_SEQUENTIAL, oursScoped),
  ];
}
