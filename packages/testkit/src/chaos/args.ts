// The command lines of the chaos scripts (`npm run chaos`, `npm run soak`, scripts/chaos/redis-durability.ts):
// `node:util` parseArgs reads the flags, and these turn their text into options.
import { parseArgs } from 'node:util';
import type { ChaosOptions } from './options.ts';

/** `60s`, `2m`, `1500ms`, or a bare number of milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new TypeError(`not a duration: ${JSON.stringify(text)} (write 60s, 2m, 1500ms or 1500)`);
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n;
}

/** A flag's number; its range is checked by whatever takes it (`resolveChaosOptions`). */
export function parseNumber(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n))
    throw new TypeError(`--${flag} takes a number, got ${JSON.stringify(text)}`);
  return n;
}

/** Each flag that takes a value: the option it sets and how its text becomes that option's value. */
const VALUE_FLAGS = {
  duration: ['durationMs', parseDuration],
  clients: ['clients', parseNumber],
  videos: ['videos', parseNumber],
  settings: ['settings', parseNumber],
  hot: ['hot', parseNumber],
  streams: ['streams', parseNumber],
  comments: ['comments', parseNumber],
  workers: ['workers', parseNumber],
  'kill-every': ['killEveryMs', parseDuration],
  outage: ['outageMs', parseDuration],
  'outage-at': ['outageAt', parseNumber],
  'drain-timeout': ['drainTimeoutMs', parseDuration],
  seed: ['seed', parseNumber],
} as const satisfies Record<string, [keyof ChaosOptions, (text: string, flag: string) => number]>;

export const CHAOS_USAGE = `Usage: npm run chaos -- [flags]
  --duration 60s       how long the load runs
  --clients 32         concurrent clients, each owning a share of the videos and settings
  --videos 2000        video keys (increments, adds, sets, deletes with their comments, reads by their owner)
  --settings 1000      settings keys (whole and partial sets, deletes, reads by their owner)
  --hot 8              video keys every client adds to (and increments, every other one)
  --streams 8          event streams (videoEvent keys) every client appends to
  --comments 2         comment keys on each video (children of it: created with the video's first write or on
                       it, updated, deleted), and one per client on each hot video; 0 for none
  --workers 2          flush worker processes
  --kill-every 3s      a worker killed this often
  --outage 10s         how long PostgreSQL is cut (0 for none)
  --outage-at 0.35     when the outage starts, as a fraction of the duration
  --drain-timeout 60s  how long the clean worker gets to drain after the load
  --seed 1             seeds the clients' choices
  --json               the whole report as JSON on stdout
  --quiet              no progress lines on stderr
  --help               this text`;

export interface ChaosCommand {
  options: Partial<ChaosOptions>;
  /** Print the report as JSON rather than as the table. */
  json: boolean;
  /** Print {@link CHAOS_USAGE} and run nothing. */
  help: boolean;
}

/** The chaos run's flags (see {@link CHAOS_USAGE}); throws on an unknown flag or a value it cannot read. */
export function parseChaosArgs(argv: string[]): ChaosCommand {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...Object.fromEntries(Object.keys(VALUE_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const options: Partial<ChaosOptions> = {};
  const given: Record<string, string | boolean | undefined> = values;
  for (const [flag, [option, parse]] of Object.entries(VALUE_FLAGS)) {
    const text = given[flag];
    if (typeof text === 'string') Object.assign(options, { [option]: parse(text, flag) });
  }
  if (values.quiet) options.verbose = false;
  return { options, json: values.json === true, help: values.help === true };
}
