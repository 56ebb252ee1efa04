/*
 * The contract with `lua/write.lua` and `lua/fill.lua`: their argument layouts and their replies, the one
 * place either is written or read on this side. The status names match the scripts' `STATUS_*` constants (a
 * unit test compares them). Pure.
 */
import type { ShardKeys } from '../keys.js';

/** Reply statuses; see the constants at the top of `lua/write.lua`. */
export const WriteStatus = {
  OK: 0,
  /** The key is not in Redis, or only partly: load it from the database and write again with a fill. */
  COLD: 1,
  BACKLOG_FULL: 2,
  OVERFLOW: 3,
  /** The record does not exist and this write cannot create it (a required field is missing). */
  NOT_FOUND: 4,
  /** From `i` and `add` only: the key is deleted; the general form may create the record. */
  DELETED: 5,
  /**
   * A resent batch whose outcome the writer's state can no longer tell (its replies are no longer kept, or the
   * state began after it): it may have been applied once, nothing of it was applied now.
   */
  UNKNOWN: 6,
  /** From an append only: too many events wait in the shard (`backlog.eventLimit`); the value is how many. */
  EVENT_BACKLOG_FULL: 7,
  /** The fill was read before a flush the key has acknowledged since: load it again. */
  STALE: 8,
  /** The memory budget is spent on dirty keys: no clean key could be evicted to make room. */
  MEMORY_FULL: 9,
} as const;
export type WriteStatus = (typeof WriteStatus)[keyof typeof WriteStatus];

/** One write's outcome, decoded from the script's reply. */
export type WriteResult =
  | {
      status: typeof WriteStatus.OK;
      /**
       * An increment's new counter value (decimal text), an append's sequence number (decimal text), a delete's
       * 1 or 0, a `set`'s whole hash (field/value list); '' for an add to a partial key, 0 for a `put`.
       */
      value: string | number | string[];
      version: number;
      /** Set when the write made the key dirty: the flush job the caller enqueues. */
      jobId?: string;
    }
  | { status: typeof WriteStatus.BACKLOG_FULL | typeof WriteStatus.EVENT_BACKLOG_FULL; count: number }
  /** `current`: the counter's value (or an add's pending sum) that the increment would have taken out of range. */
  | { status: typeof WriteStatus.OVERFLOW; current: string }
  | {
      status:
        | typeof WriteStatus.COLD
        | typeof WriteStatus.NOT_FOUND
        | typeof WriteStatus.DELETED
        | typeof WriteStatus.UNKNOWN
        | typeof WriteStatus.STALE
        | typeof WriteStatus.MEMORY_FULL;
    };

/** Decodes one write's reply (`{ status, value, version, jobId }`, see `lua/write.lua`). */
export function decodeWriteReply(raw: unknown): WriteResult {
  if (!Array.isArray(raw) || typeof raw[0] !== 'number') {
    throw new Error(`unexpected reply from the write script: ${JSON.stringify(raw)}`);
  }
  const status = raw[0] as WriteStatus;
  switch (status) {
    case WriteStatus.OK: {
      const result: WriteResult = {
        status,
        value: raw[1] as string | number | string[],
        version: Number(raw[2]),
      };
      if (typeof raw[3] === 'string') result.jobId = raw[3];
      return result;
    }
    case WriteStatus.BACKLOG_FULL:
    case WriteStatus.EVENT_BACKLOG_FULL:
      return { status, count: Number(raw[1]) };
    case WriteStatus.OVERFLOW:
      return { status, current: String(raw[1]) };
    case WriteStatus.COLD:
    case WriteStatus.NOT_FOUND:
    case WriteStatus.DELETED:
    case WriteStatus.UNKNOWN:
    case WriteStatus.STALE:
    case WriteStatus.MEMORY_FULL:
      return { status };
    default:
      throw new Error(`unexpected status from the write script: ${JSON.stringify(raw)}`);
  }
}

export type WriteOp = 'i' | 'add' | 'incr' | 'set' | 'put' | 'del' | 'a';

/** One write for the script: its data key, op and the op's arguments. */
export interface WriteCall {
  key: string;
  op: WriteOp;
  args: readonly string[];
}

/** A cold key's state as loaded from the database: mode, version, then field/value pairs. */
export type Fill = readonly string[];
/** A key Redis must already hold. */
export const NO_FILL: Fill = ['', '0', '0'];

/** The fill of a key that has a row (`pairs` in Redis form) or none. */
export function fillArgs(loaded: { version: number; pairs?: readonly string[] }): Fill {
  if (!loaded.pairs) return ['absent', String(loaded.version), '0'];
  return ['row', String(loaded.version), String(loaded.pairs.length / 2), ...loaded.pairs];
}

/** Creation arguments: how many required fields the write leaves out, then the defaults of the others. */
export function createArgs(missingRequired: number, defaults: readonly string[]): string[] {
  return [String(missingRequired), String(defaults.length / 2), ...defaults];
}
/** A delete never creates a record. */
export const NO_CREATE: readonly string[] = ['0', '0'];

/**
 * An increment of a counter: field, delta, least and largest value, and the field's ranking key when it is
 * ranked. `i` needs the key in Redis in whole (the short form of the hot path); `add` needs nothing.
 */
export function incrementCall(
  key: string,
  field: string,
  by: number,
  min: number,
  max: number,
  rankingKey?: string,
  op: 'i' | 'add' = 'i',
): WriteCall {
  const args = incrementArgs(field, by, min, max);
  if (rankingKey !== undefined) args.push(rankingKey);
  return { key, op, args };
}

/** An entity's ranked fields as the general form ends: their count, then field/ranking key pairs. */
export function rankingArgs(pairs: readonly string[]): string[] {
  return [String(pairs.length / 2), ...pairs];
}
/** An entity without ranked fields. */
export const NO_RANKINGS: readonly string[] = ['0'];

/** The general form of a write: fill, creation arguments, the op's own arguments, then the rankings. */
export function generalCall(
  key: string,
  op: 'incr' | 'set' | 'put' | 'del',
  fill: Fill,
  create: readonly string[],
  opArgs: readonly string[],
  rankings: readonly string[] = NO_RANKINGS,
): WriteCall {
  return { key, op, args: [...fill, ...create, ...opArgs, ...rankings] };
}

/** The op arguments of an increment (also the short form's). */
export function incrementArgs(field: string, by: number, min: number, max: number): string[] {
  return [field, String(by), String(min), String(max)];
}

/** The op arguments of a `set` or `put`: pair count, then field/value pairs. */
export function setArgs(pairs: readonly string[]): string[] {
  return [String(pairs.length / 2), ...pairs];
}

/** An event of an append entity: the most events that may wait in the shard (0: no limit), the encoded event. */
export function appendCall(key: string, eventLimit: number, event: string): WriteCall {
  return { key, op: 'a', args: [String(eventLimit), event] };
}

/** The arguments shared by a batch (ARGV[1..10]). */
export interface BatchHeader {
  now: number;
  backlogLimit: number;
  /** `cacheTtlMs`: how long a key the write finds clean stays cached (0: for ever). */
  cacheTtlMs: number;
  batch: number;
  keptReplies: number;
  writerTtlMs: number;
  /** The shard's memory budget (0: none). */
  maxKeys: number;
  maxBytes: number;
  /** Most entries a ranking of the shard keeps (0: no cap). */
  rankingCap: number;
}

/** The script's KEYS: the shard's own keys, the writer's state, then each write's data key. */
export function writeKeys(shard: ShardKeys, writerState: string, calls: readonly WriteCall[]): string[] {
  return [
    shard.dirty,
    writerState,
    shard.clock,
    shard.pendingEvents,
    shard.clean,
    shard.memory,
    ...calls.map((c) => c.key),
  ];
}

/** The script's ARGV for a batch: the header, then one `op, count, ...args` record per write. */
export function writeArguments(
  shard: ShardKeys,
  header: BatchHeader,
  calls: readonly WriteCall[],
): (string | number)[] {
  const argv: (string | number)[] = [
    header.now,
    header.backlogLimit,
    header.cacheTtlMs,
    header.batch,
    header.keptReplies,
    header.writerTtlMs,
    shard.dataKeyPrefixLength,
    header.maxKeys,
    header.maxBytes,
    header.rankingCap,
  ];
  for (const call of calls) {
    argv.push(call.op, call.args.length);
    for (const arg of call.args) argv.push(arg);
  }
  return argv;
}

/** What `lua/fill.lua` did with a load. */
export type FillResult =
  | { status: 'ok'; hash: string[] }
  /** The memory budget left no room: answer from the load without caching it. */
  | { status: 'uncached' }
  /** The load predates a flush the key acknowledged since: load again. */
  | { status: 'stale' }
  /** A partial key whose record has no row, and adds alone cannot create it. */
  | { status: 'absent' };

/** The fill script's KEYS and ARGV: the key, the shard's budget keys, then the load and the creation arguments. */
export function fillCall(
  shard: ShardKeys,
  key: string,
  settings: { ttlMs: number; now: number; maxKeys: number; maxBytes: number },
  fill: Fill,
  create: readonly string[],
): { keys: string[]; args: (string | number)[] } {
  return {
    keys: [key, shard.dirty, shard.clean, shard.memory],
    args: [settings.ttlMs, settings.now, settings.maxKeys, settings.maxBytes, ...fill, ...create],
  };
}

export function decodeFillReply(raw: unknown): FillResult {
  if (!Array.isArray(raw)) throw new Error(`unexpected reply from the fill script: ${JSON.stringify(raw)}`);
  const [status, hash] = raw as [string, string[]];
  if (status === 'ok') return { status, hash };
  if (status === 'uncached' || status === 'stale' || status === 'absent') return { status };
  throw new Error(`unexpected reply from the fill script: ${JSON.stringify(raw)}`);
}
