/** Conditional tests that never skip silently: a skipped one says why, in the run's output. */

/** `it` where `present`, else `it.skip` and one warning line naming what is missing. */
export function itIf(present: boolean, what: string): jest.It {
  if (!present) console.warn(`SKIPPED tests that need ${what}`);
  return present ? it : it.skip;
}
