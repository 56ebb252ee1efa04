/*
 * The contract with `lua/write.lua`: its argument layout and its reply, the one place either is written on
 * this side. The status names match the script's `STATUS_*` constants (a unit test compares them). Pure.
 */

/** Reply statuses; see the constants at the top of `lua/write.lua`. */
export const WriteStatus = {
  OK: 0,
  /** The key is not in Redis: load it from the database and write again with a fill. */
  COLD: 1,
  BACKLOG_FULL: 2,
  OVERFLOW: 3,
  /** The record does not exist and this write cannot create it (a required field is missing). */
  NOT_FOUND: 4,
  /** From the short increment only: the key is deleted; the general form may create the record. */
  DELETED: 5,
  /** A batch resent after a reconnect, applied once already, whose replies are no longer kept. */
  UNKNOWN: 6,
  /** From an append only: too many events wait in the shard (`backlog.eventLimit`); the value is how many. */
  EVENT_BACKLOG_FULL: 7,
} as const;
export type WriteStatus = (typeof WriteStatus)[keyof typeof WriteStatus];

/**
 * One write's reply: status, value (an increment's new counter value as decimal text, a `set`'s whole hash, 1 for a
 * delete that deleted, the dirty count or the current counter value on refusals), version, and the flush job's id
 * when the write made the key dirty.
 */
export type WriteReply = [
  status: WriteStatus,
  value?: number | string | string[],
  version?: number,
  jobId?: string,
];

export type WriteOp = 'i' | 'incr' | 'set' | 'put' | 'del' | 'a';

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
 * The short increment of a key Redis holds: field, delta, least and largest value, and the field's ranking
 * key when it is ranked.
 */
export function incrementCall(
  key: string,
  field: string,
  by: number,
  min: number,
  max: number,
  rankingKey?: string,
): WriteCall {
  const args = incrementArgs(field, by, min, max);
  if (rankingKey !== undefined) args.push(rankingKey);
  return { key, op: 'i', args };
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
  op: Exclude<WriteOp, 'i' | 'a'>,
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

/**
 * An event of an append entity (`lua/includes/append-event.lua`): fill mode and version (a cold key's highest
 * sequence number in the database; {@link NO_FILL}'s first two for a key Redis must hold), the most events
 * that may wait in the shard (0: no limit), then the encoded event.
 */
export function appendCall(key: string, fill: Fill, eventLimit: number, event: string): WriteCall {
  return { key, op: 'a', args: [fill[0] as string, fill[1] as string, String(eventLimit), event] };
}

/** The arguments shared by a batch (ARGV[1..6]). */
export interface BatchHeader {
  now: number;
  backlogLimit: number;
  mayExpire: boolean;
  batch: number;
  keptReplies: number;
  writerTtlMs: number;
}

/** The script's ARGV for a batch: the header, then one `op, count, ...args` record per write. */
export function writeArguments(header: BatchHeader, calls: readonly WriteCall[]): (string | number)[] {
  const argv: (string | number)[] = [
    header.now,
    header.backlogLimit,
    header.mayExpire ? '1' : '0',
    header.batch,
    header.keptReplies,
    header.writerTtlMs,
  ];
  for (const call of calls) {
    argv.push(call.op, call.args.length);
    for (const arg of call.args) argv.push(arg);
  }
  return argv;
}
