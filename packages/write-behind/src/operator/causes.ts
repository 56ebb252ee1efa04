import { createHash } from 'node:crypto';

/*
 * Failed flush jobs grouped by what made them fail, for operators: one group per entity and cause, a cause
 * being the database's code (PostgreSQL's SQLSTATE) and its message with the parts that name one key taken
 * out. Pure: no I/O, unit-tested (test/unit/operator-causes.test.ts).
 *
 * A failed job carries its error as text only (BullMQ's `failedReason`). The flush writes it as
 * `RowRejectedError` does (flush/flush-batcher.ts): `the database refused <entity> "<id>": <message> (<code>)`, and
 * for a refused event ` (event <n>)` after it. {@link parseFailedReason} is the one place that reads that
 * layout back; its unit test builds a real `RowRejectedError`, so a change of the layout fails there.
 */

/** What made a job fail, as its reason says. */
export interface FailureReason {
  /** The database's error code (PostgreSQL's SQLSTATE, `23514`), when the reason names one. */
  code?: string;
  /** The database's message (or the whole reason, for a failure that is not a refused row). */
  message: string;
}

/** A cause: the code and the message with values, numbers and ids taken out, and a short stable id. */
export interface Cause {
  /** `<code or 'none'>-<8 hex digits of the normalised message>`: stable across processes and restarts. */
  id: string;
  code?: string;
  /** The message normalised (see {@link normaliseMessage}). */
  message: string;
}

/** One failed job, as the grouping needs it. */
export interface FailedJob {
  entity: string;
  /** The key's canonical id. */
  id: string;
  jobId: string;
  shard: number;
  /** `'flush'`: the key's flush job; `'refused-event'`: one event of an append key the database refused. */
  kind: 'flush' | 'refused-event';
  /** When it failed (ms since the epoch). */
  failedAt: number;
  attemptsMade: number;
  /** BullMQ's `failedReason`. */
  reason: string;
}

/** The failed jobs of one entity and cause. */
export interface FailureGroup {
  entity: string;
  cause: Cause;
  /** Failed jobs in the group. */
  count: number;
  /** Distinct keys among them. */
  keys: number;
  /** When the oldest and the newest of them failed (ms since the epoch). */
  firstSeen: number;
  lastSeen: number;
  /** An example of the database's message as it was, with its values. */
  example: string;
  /** The newest failed jobs, up to the sample size. */
  sample: FailedJob[];
}

const REFUSED =
  /^the database refused (\S+) ("(?:[^"\\]|\\.)*"): ([\s\S]*?)(?: \(([0-9A-Z]{5})\))?(?: \(event (\d+)\))?$/;

/**
 * The code and message of a failed job's reason. A reason written by the flush for a refused row yields the
 * database's own message and code, without the entity and id in front; any other reason is its own message.
 *
 * @example
 * ```ts
 * parseFailedReason('the database refused video "v1": new row for relation "Video" violates check constraint "c" (23514)');
 * // { code: '23514', message: 'new row for relation "Video" violates check constraint "c"' }
 * ```
 */
export function parseFailedReason(reason: string): FailureReason {
  const match = REFUSED.exec(reason);
  if (!match) return { message: reason };
  const message = match[3] as string;
  return match[4] ? { code: match[4], message } : { message };
}

/**
 * Words after which PostgreSQL quotes a name (a table, a constraint, a column): the name says what failed,
 * the same for every key, so it stays. Anything else quoted is a value of one key, and goes.
 */
const NAMING_WORDS = new Set([
  'relation',
  'table',
  'constraint',
  'column',
  'index',
  'schema',
  'type',
  'function',
  'sequence',
  'trigger',
  'domain',
  'view',
  'database',
  'role',
  'operator',
  'extension',
  'enum',
]);
const QUOTED = /("(?:[^"]|"")*"|'(?:[^']|'')*')/;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const NUMBER = /(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![A-Za-z_])/gi;
const MAX_MESSAGE = 240;

/**
 * A message with what differs from one key to the next taken out, so that the failures of many keys for
 * one reason read as one: quoted values become `"…"`, numbers `N`, UUIDs `<uuid>`, and the parenthesised
 * values of a detail (`Key (id)=(v1)`) `(…)`. Quoted names (after `relation`, `constraint`, `column`, …) stay:
 * `violates check constraint "likes_positive"` is the cause itself, and two constraints are two causes.
 *
 * @example
 * ```ts
 * normaliseMessage('value "99999999999" is out of range for type integer'); // 'value "…" is out of range for type integer'
 * ```
 */
export function normaliseMessage(message: string): string {
  const pieces = message.split(QUOTED);
  let out = '';
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as string;
    if (i % 2 === 1) {
      const before = /([A-Za-z_-]+)\s*$/.exec(out)?.[1]?.toLowerCase();
      out += before && NAMING_WORDS.has(before) ? piece : piece[0] === '"' ? '"…"' : "'…'";
    } else {
      out += piece
        .replace(/=\([^)]*\)/g, '=(…)')
        .replace(UUID, '<uuid>')
        .replace(NUMBER, 'N');
    }
  }
  const collapsed = out.replace(/\s+/g, ' ').trim();
  return collapsed.length > MAX_MESSAGE ? `${collapsed.slice(0, MAX_MESSAGE - 1)}…` : collapsed;
}

/** The cause of a failed job's reason. */
export function causeOf(reason: string): Cause {
  const { code, message } = parseFailedReason(reason);
  const normalised = normaliseMessage(message);
  const hash = createHash('sha1')
    .update(`${code ?? ''}\n${normalised}`)
    .digest('hex')
    .slice(0, 8);
  const id = `${code ?? 'none'}-${hash}`;
  return code ? { id, code, message: normalised } : { id, message: normalised };
}

/**
 * Whether a cause is the one an operator named: its id (`23514-1a2b3c4d`), or its code alone (`23514`, every
 * cause with that code), compared without regard to case.
 */
export function causeMatches(cause: Cause, named: string): boolean {
  const wanted = named.trim().toLowerCase();
  return cause.id.toLowerCase() === wanted || (cause.code ?? 'none').toLowerCase() === wanted;
}

/**
 * Failed jobs grouped by entity and cause, the largest group first (then the most recent). Each group keeps
 * its newest `sampleSize` jobs.
 */
export function groupFailures(jobs: readonly FailedJob[], sampleSize = 20): FailureGroup[] {
  const groups = new Map<string, FailureGroup & { keySet: Set<string> }>();
  for (const job of jobs) {
    const cause = causeOf(job.reason);
    const name = `${job.entity}\n${cause.id}`;
    let group = groups.get(name);
    if (!group) {
      group = {
        entity: job.entity,
        cause,
        count: 0,
        keys: 0,
        firstSeen: job.failedAt,
        lastSeen: job.failedAt,
        example: parseFailedReason(job.reason).message,
        sample: [],
        keySet: new Set(),
      };
      groups.set(name, group);
    }
    group.count++;
    group.keySet.add(job.id);
    group.firstSeen = Math.min(group.firstSeen, job.failedAt);
    if (job.failedAt >= group.lastSeen) {
      group.lastSeen = job.failedAt;
      group.example = parseFailedReason(job.reason).message;
    }
    group.sample.push(job);
  }
  return [...groups.values()]
    .map(({ keySet, ...group }) => ({
      ...group,
      keys: keySet.size,
      sample: group.sample.sort((a, b) => b.failedAt - a.failedAt).slice(0, sampleSize),
    }))
    .sort((a, b) => b.count - a.count || b.lastSeen - a.lastSeen);
}

/** Which failed jobs an operator's retry takes. */
export type FailureSelector =
  /** Every failed job of a cause (its id, or a code: see {@link causeMatches}), of one entity or all. */
  | { cause: string; entity?: string }
  /** The failed jobs of these keys (canonical ids). */
  | { keys: readonly { entity: string; id: string }[] };

/** The failed jobs a selector takes, oldest first (the order they are retried in). */
export function selectFailures(jobs: readonly FailedJob[], selector: FailureSelector): FailedJob[] {
  let chosen: FailedJob[];
  if ('keys' in selector) {
    const wanted = new Set(selector.keys.map((k) => `${k.entity}\n${k.id}`));
    chosen = jobs.filter((job) => wanted.has(`${job.entity}\n${job.id}`));
  } else {
    chosen = jobs.filter(
      (job) =>
        (selector.entity === undefined || job.entity === selector.entity) &&
        causeMatches(causeOf(job.reason), selector.cause),
    );
  }
  return [...chosen].sort((a, b) => a.failedAt - b.failedAt);
}

/** `items` in batches of at most `size`, in order. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
