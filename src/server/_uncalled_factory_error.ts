import { describe } from "../_errors.ts";

/**
 * The error of an adapter's `cacheScope` given to the framework uncalled (`app.use(cacheScope)`,
 * `app.register(cacheScope)`): the framework then calls the factory as the middleware or plugin,
 * with its own arguments in place of the options. `unit` names what the framework takes
 * ("middleware", "plugin"); `to` names the call that takes it ("app.use").
 */
export function uncalledFactoryError(
  action: string,
  to: string,
  unit: string,
  args: ArrayLike<unknown>,
): TypeError {
  const count = args.length === 1 ? "1 argument" : `${args.length} arguments`;
  return new TypeError(
    `Cannot ${action}: cacheScope takes the options, not what ${to} gives a ${unit}, received ${count} starting with ${
      describe(args[0])
    }; give ${to} the ${unit} cacheScope() returns, not cacheScope itself`,
  );
}
