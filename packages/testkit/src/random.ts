/** A small, fast, seeded PRNG (mulberry32): uniform in [0, 1). The same seed gives the same sequence in every run. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The seed of a property-based (fast-check) run: a new one each run, so that the runs between them try more
 * than one fixed sequence of inputs, or `FUZZ_SEED` when it is set, to repeat a run that failed. Print it
 * with the test's results (`t.diagnostic`): a failure is reproduced by `FUZZ_SEED=<seed> npm test -- <file>`.
 */
export function fuzzSeed(): number {
  const given = process.env.FUZZ_SEED;
  if (given === undefined || given.trim() === '') return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(given);
  if (!Number.isSafeInteger(seed)) {
    throw new TypeError(
      `FUZZ_SEED must be an integer (a seed printed by an earlier run), got ${JSON.stringify(given)}`,
    );
  }
  return seed;
}
