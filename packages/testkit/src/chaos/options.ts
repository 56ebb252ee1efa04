/** What a chaos run does: its load, its faults and how long it waits. */
export interface ChaosOptions {
  /** How long the load runs, in ms. @defaultValue `60_000` */
  durationMs: number;
  /** Concurrent clients; each owns a share of the videos and settings (see `load.ts`). @defaultValue `32` */
  clients: number;
  /** Video keys, each owned by one client. @defaultValue `2000` */
  videos: number;
  /** Settings keys, each owned by one client. @defaultValue `1000` */
  settings: number;
  /**
   * Video keys shared by every client: `hot0`, `hot2`... take increments of `likes` and `views` and adds of
   * `views`, `hot1`, `hot3`... adds of `views` alone (keys Redis holds partly, flushed as sums).
   * @defaultValue `8`
   */
  hot: number;
  /** Event streams (keys of the append entity `videoEvent`) every client appends to. @defaultValue `8` */
  streams: number;
  /**
   * Comment keys on each owned video (`v7-c0`, `v7-c1`...), owned by the video's client; with any, each shared
   * video also has one comment per client (`hot0-k3` is client 3's). `0`: a run without comments.
   * @defaultValue `2`
   */
  comments: number;
  /** Flush worker processes running at any time (each killed one is replaced at once). @defaultValue `2` */
  workers: number;
  /** A worker is killed every `killEveryMs`. @defaultValue `3000` */
  killEveryMs: number;
  /** How long PostgreSQL is cut, in ms; `0` for no outage. @defaultValue `10_000` */
  outageMs: number;
  /** When the outage starts, as a fraction of the duration (0 to 1). @defaultValue `0.35` */
  outageAt: number;
  /** Seeds each client's choices (client `c` draws from `seed * 1000 + c`). @defaultValue `1` */
  seed: number;
  /** Progress lines on stderr. @defaultValue `true` */
  verbose: boolean;
  /** How long the clean worker gets to drain everything after the load, in ms. @defaultValue `60_000` */
  drainTimeoutMs: number;
}

export const DEFAULT_CHAOS: ChaosOptions = {
  durationMs: 60_000,
  clients: 32,
  videos: 2000,
  settings: 1000,
  hot: 8,
  streams: 8,
  comments: 2,
  workers: 2,
  killEveryMs: 3000,
  outageMs: 10_000,
  outageAt: 0.35,
  seed: 1,
  verbose: true,
  drainTimeoutMs: 60_000,
};

/** The least value of each whole-number option. */
const LEAST: Partial<Record<keyof ChaosOptions, number>> = {
  durationMs: 1,
  clients: 1,
  videos: 0,
  settings: 0,
  hot: 0,
  streams: 0,
  comments: 0,
  workers: 1,
  killEveryMs: 1,
  outageMs: 0,
  seed: 0,
  drainTimeoutMs: 1,
};

/**
 * {@link DEFAULT_CHAOS} with `options` over it (an `undefined` option takes its default); throws a `TypeError`
 * quoting the value of an option out of range.
 */
export function resolveChaosOptions(options: Partial<ChaosOptions> = {}): ChaosOptions {
  const resolved = { ...DEFAULT_CHAOS };
  for (const [name, value] of Object.entries(options) as [keyof ChaosOptions, unknown][]) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_CHAOS))
      throw new TypeError(`unknown chaos option ${JSON.stringify(name)}; options: ${optionNames()}`);
    const least = LEAST[name];
    if (least !== undefined && !(Number.isSafeInteger(value) && (value as number) >= least))
      throw new TypeError(
        `chaos option ${name} must be a whole number of at least ${least}, got ${show(value)}`,
      );
    if (name === 'outageAt' && !(typeof value === 'number' && value >= 0 && value <= 1))
      throw new TypeError(`chaos option outageAt must be a fraction from 0 to 1, got ${show(value)}`);
    if (name === 'verbose' && typeof value !== 'boolean')
      throw new TypeError(`chaos option verbose must be true or false, got ${show(value)}`);
    Object.assign(resolved, { [name]: value });
  }
  return resolved;
}

function optionNames(): string {
  return Object.keys(DEFAULT_CHAOS).join(', ');
}

function show(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}
