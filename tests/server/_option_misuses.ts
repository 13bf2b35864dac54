/**
 * The options every server integration's `cacheScope()` (and `withCacheScope`) refuses, each
 * with the problem its message names after "Cannot <action>: ". One table for every misuse
 * test, so that the integrations are held to the same words.
 */
export const optionMisuses: readonly (readonly [options: unknown, problem: string])[] = [
  ["fast", 'options must be an object, received the string "fast"'],
  [null, "options must be an object, received null"],
  [
    { waitForBodies: false },
    'unknown option "waitForBodies"; the options are waitForBody, serverTiming',
  ],
  [{ waitForBody: "no" }, 'waitForBody must be a boolean, received the string "no"'],
  [{ serverTiming: 1 }, "serverTiming must be a boolean, received number 1"],
];
