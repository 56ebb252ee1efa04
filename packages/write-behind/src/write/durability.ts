import type { DurabilityLevel, ReplicationOptions } from '../options.js';

/** How many replicas must confirm a write, and how long a batch waits for them. */
export type ReplicationSettings = Required<ReplicationOptions>;

/** What Redis confirmed for one batch, from the `WAIT` and `WAITAOF` sent behind it on its connection. */
export interface Confirmation {
  /** `WAIT`: replicas that hold the batch. */
  replicas?: number;
  /** `WAITAOF`: whether the primary fsynced its AOF (0 or 1), and how many replicas fsynced theirs. */
  aof?: [local: number, replicas: number];
  /** The wait failed (the connection dropped, the command was refused): nothing is confirmed. */
  error?: Error;
}

/** A write Redis applied that its level's wait did not confirm. */
export interface Shortfall {
  level: Exclude<DurabilityLevel, 'memory'>;
  /** Replicas that confirmed it (that hold it for `replicas`, that fsynced it for `fsync`). */
  confirmed: number;
  required: number;
  /** For `fsync`: whether the primary fsynced its own AOF. */
  localFsynced?: boolean;
  timeoutMs: number;
  cause?: Error;
}

export const LEVELS: readonly DurabilityLevel[] = ['memory', 'replicas', 'fsync'];

export function isDurabilityLevel(value: unknown): value is DurabilityLevel {
  return LEVELS.includes(value as DurabilityLevel);
}

/**
 * The commands that follow a batch's script call on its connection, so that they cover it: `WAIT` when a write
 * asks for `replicas`, `WAITAOF` when one asks for `fsync`. `WAIT` and `WAITAOF` count what the connection
 * wrote so far; the primary answers once enough replicas (and its own AOF) caught up, or at the timeout.
 */
export function confirmationCommands(
  levels: ReadonlySet<DurabilityLevel>,
  settings: ReplicationSettings,
): [command: 'WAIT' | 'WAITAOF', ...args: number[]][] {
  const commands: [command: 'WAIT' | 'WAITAOF', ...args: number[]][] = [];
  if (levels.has('replicas')) commands.push(['WAIT', settings.replicas, settings.timeoutMs]);
  if (levels.has('fsync')) commands.push(['WAITAOF', 1, settings.replicas, settings.timeoutMs]);
  return commands;
}

/** Reads the replies of {@link confirmationCommands} (same order) into one confirmation. */
export function readConfirmation(
  commands: readonly (readonly [string, ...number[]])[],
  replies: readonly [error: Error | null, reply: unknown][],
): Confirmation {
  const confirmation: Confirmation = {};
  for (const [i, [command]] of commands.entries()) {
    const [error, reply] = replies[i] ?? [new Error(`no reply to ${command}`), undefined];
    if (error) {
      confirmation.error = error;
    } else if (command === 'WAIT') {
      confirmation.replicas = Number(reply);
    } else {
      const [local, replicas] = reply as [number, number];
      confirmation.aof = [Number(local), Number(replicas)];
    }
  }
  return confirmation;
}

/** Whether a write at `level` is confirmed by its batch's waits; the shortfall when it is not. */
export function shortfallOf(
  level: DurabilityLevel,
  confirmation: Confirmation,
  settings: ReplicationSettings,
): Shortfall | undefined {
  if (level === 'memory') return undefined;
  const { replicas: required, timeoutMs } = settings;
  const cause = confirmation.error ? { cause: confirmation.error } : {};
  if (level === 'replicas') {
    const confirmed = confirmation.replicas ?? 0;
    return confirmed >= required ? undefined : { level, confirmed, required, timeoutMs, ...cause };
  }
  const [local, confirmed] = confirmation.aof ?? [0, 0];
  if (local >= 1 && confirmed >= required) return undefined;
  return { level, confirmed, required, localFsynced: local >= 1, timeoutMs, ...cause };
}

/**
 * Why a server cannot give `durability: 'fsync'`, from its `INFO` text; `undefined` when it can. `WAITAOF`
 * came with Redis 7.2, and it refuses to wait for a local fsync when the server writes no AOF.
 */
export function waitAofProblem(info: string, where: string): string | undefined {
  const version = /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (!(major > 7 || (major === 7 && minor >= 2))) {
    return `durability 'fsync' needs WAITAOF, which Redis 7.2 added; ${where} runs Redis ${version}. Upgrade Redis, or use durability 'replicas'`;
  }
  if (/^aof_enabled:0/m.test(info)) {
    return `durability 'fsync' needs an append-only file on the primary, and ${where} runs with appendonly no. Run \`CONFIG SET appendonly yes\`, or use durability 'replicas'`;
  }
  return undefined;
}
