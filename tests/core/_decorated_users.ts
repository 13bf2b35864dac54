// Decorator syntax: Deno and Bun parse it; Node's type stripping does not (V8 has no
// decorators yet), so tests/core/decorator.test.ts imports this file only on Deno and Bun.
import { perRequestCache } from "../../mod.ts";

export class Users {
  queries = 0;
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  @perRequestCache
  find(id: number): { name: string; query: number } {
    return { name: `${this.prefix}${id}`, query: ++this.queries };
  }

  @perRequestCache
  async findAsync(id: number): Promise<string> {
    await Promise.resolve();
    this.queries++;
    return `${this.prefix}${id}`;
  }
}
