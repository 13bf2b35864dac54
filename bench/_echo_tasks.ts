/**
 * The pool's side of the worker benchmarks (issue 5, item 6): one task that returns its
 * argument, so that a round trip through the pool measures the pool and nothing else.
 */
import { serveTasks } from "../worker.ts";

export const tasks = serveTasks({ echo: (value: number): number => value });
