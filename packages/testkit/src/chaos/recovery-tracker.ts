// Recovery after a worker kill, as the chaos run measures it: for each kill, the time from the SIGKILL to the
// moment the last key held by the killed worker (its active jobs at the kill) reached PostgreSQL.
//
// Whose jobs are whose: a BullMQ lock token is `<worker id>:<n>`. Just before the kill the tracker notes every
// active job, its token and its key's version, and again just after it (a worker still taking jobs when killed
// may have taken more in between); a third look a moment later shows which workers are alive (they took jobs
// since the kill). The killed worker is the one that took none, and was not killed before (a dead worker's jobs
// stay active until the stalled-job check takes them back). During a database outage the live
// workers take no job either, so such kills may count other workers' keys: they are reported apart.
//
// A job that had stalled before (its worker killed at an earlier kill) fails at this second stall
// (`maxStalledCount` 1) and its key waits for the sweep, which the chaos workers do not run: only the draining
// worker does. Such keys are timed apart from the others.
//
// "Reached PostgreSQL" is read from Redis: the acknowledgement script records the version the database holds
// (`_fv`) after the commit, and removes the hash of a flushed delete.
import { setTimeout as sleep } from 'node:timers/promises';
import { dataKey, FLUSH_JOB, type FlushJobData, type ShardKeys } from '@write-behind/core/internal';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

const POLL_MS = 50;
/** How long after a kill the tracker looks again for workers that took new jobs. */
const PROBE_AFTER_MS = 1000;

export interface KillRecovery {
  /** ms from the start of the load. */
  atMs: number;
  kind: string;
  /** Keys the killed worker held (active jobs at the kill). */
  keys: number;
  /** From the kill to the last of them in PostgreSQL, but for those of `restalled`; absent if one never landed. */
  recoveryMs?: number;
  /** Held keys whose job had stalled before: it fails now, and the key waits for the sweep. */
  restalled: number;
  /** From the kill to the last of those in PostgreSQL. */
  restalledMs?: number;
  /** Whether every held key landed before the run ended. */
  landed: boolean;
  /** The recovery overlapped the PostgreSQL outage: it measures the outage, not the stalled-job check. */
  duringOutage: boolean;
}

export interface RecoverySummary {
  /** Every kill, and those whose worker held at least one key (a worker still starting holds none). */
  killsTotal: number;
  kills: number;
  /** Over the kills clear of the outage. */
  medianMs?: number;
  maxMs?: number;
  /** Kills whose recovery overlapped the outage, and the longest of them. */
  outageKills: number;
  outageMaxMs?: number;
  /** Kills with a key that had not landed when the run ended. */
  notLanded: number;
  /** The longest time a key whose job stalled a second time took, whatever the kill. */
  restalledMaxMs?: number;
  samples: KillRecovery[];
}

interface ActiveJob {
  key: string;
  /** The id of the BullMQ worker that holds it (its lock token's first part). */
  worker: string;
  /** The key's version at the kill. */
  version: number;
  /** Its job had stalled before. */
  restalled: boolean;
}

interface Pending {
  kind: string;
  killedAt: number;
  /** Every key active at the kill → its version; those left have not landed yet. */
  versions: Map<string, number>;
  /** When each of them landed. */
  landedAt: Map<string, number>;
  /** The killed worker's keys, once the probe after the kill has told them apart. */
  held?: Set<string>;
  /** Those of them whose job had stalled before. */
  restalled?: Set<string>;
}

/** Watches the keys of every kill until they land; `summary()` once the run has drained. */
export class RecoveryTracker {
  readonly #queue: Queue;
  readonly #redis: Redis;
  readonly #shard: ShardKeys;
  readonly #startedAt: number;
  readonly #pending = new Set<Pending>();
  readonly #records: KillRecovery[] = [];
  readonly #outages: { from: number; to: number }[] = [];
  /** Workers found dead at an earlier kill. */
  readonly #dead = new Set<string>();
  readonly #probes: Promise<void>[] = [];
  #killsTotal = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(queue: Queue, redis: Redis, shard: ShardKeys, startedAt: number) {
    this.#queue = queue;
    this.#redis = redis;
    this.#shard = shard;
    this.#startedAt = startedAt;
    this.#timer = setInterval(() => void this.#poll(), POLL_MS);
  }

  /** Notes the active jobs, runs `kill`, and follows the killed worker's keys from then. */
  async kill(kind: string, kill: () => Promise<void>): Promise<void> {
    const before = await this.#activeJobs();
    this.#killsTotal++;
    const killedAt = Date.now();
    await kill();
    // Jobs taken between the first look and the kill: the killed worker's too, if it was busy.
    const after = await this.#activeJobs();
    for (const [jobId, job] of after) if (!before.has(jobId)) before.set(jobId, job);
    const versions = new Map([...before.values()].map((job) => [job.key, job.version]));
    const pending: Pending = { kind, killedAt, versions, landedAt: new Map() };
    this.#pending.add(pending);
    this.#probes.push(this.#probe(pending, before));
  }

  /** A PostgreSQL outage from `from` to `to` (Date.now() times; `to` may be in the future). */
  outage(from: number, to: number): void {
    this.#outages.push({ from, to });
  }

  /** Checks once more, stops polling and summarizes. */
  async summary(): Promise<RecoverySummary> {
    await Promise.all(this.#probes);
    clearInterval(this.#timer);
    this.#timer = undefined;
    while (this.#polling) await sleep(POLL_MS);
    await this.#poll();
    for (const pending of this.#pending) {
      if (!pending.held || pending.held.size === 0) continue;
      this.#records.push({
        atMs: pending.killedAt - this.#startedAt,
        kind: pending.kind,
        keys: pending.held.size,
        restalled: pending.restalled?.size ?? 0,
        landed: false,
        duringOutage: this.#overlapsOutage(pending.killedAt, Number.POSITIVE_INFINITY),
      });
    }
    return summarize(
      this.#records.sort((a, b) => a.atMs - b.atMs),
      this.#killsTotal,
    );
  }

  /** Tells the killed worker's jobs from the others' by which workers took new jobs since. */
  async #probe(pending: Pending, before: Map<string, ActiveJob>): Promise<void> {
    await sleep(PROBE_AFTER_MS);
    const alive = new Set<string>();
    for (const [jobId, job] of await this.#activeJobs()) {
      if (before.get(jobId)?.worker !== job.worker) alive.add(job.worker);
    }
    const killed = new Set(
      [...before.values()].map((job) => job.worker).filter((w) => !alive.has(w) && !this.#dead.has(w)),
    );
    for (const worker of killed) this.#dead.add(worker);
    const held = [...before.values()].filter((job) => killed.has(job.worker));
    pending.restalled = new Set(held.filter((job) => job.restalled).map((job) => job.key));
    pending.held = new Set(held.map((job) => job.key));
    this.#settle(pending);
  }

  async #activeJobs(): Promise<Map<string, ActiveJob>> {
    const jobs = (await this.#queue.getActive(0, -1)).filter((job) => job.name === FLUSH_JOB);
    const pipeline = this.#redis.pipeline();
    for (const job of jobs) {
      pipeline.get(`${this.#shard.jobPrefix}${job.id}:lock`);
      pipeline.hget(jobKey(this.#shard, job.data as FlushJobData), '_v');
    }
    const replies = (await pipeline.exec()) ?? [];
    const active = new Map<string, ActiveJob>();
    jobs.forEach((job, i) => {
      const token = replies[2 * i]?.[1];
      const version = replies[2 * i + 1]?.[1];
      if (typeof token !== 'string' || typeof version !== 'string') return;
      active.set(job.id as string, {
        key: jobKey(this.#shard, job.data as FlushJobData),
        worker: token.slice(0, token.lastIndexOf(':')),
        version: Number(version),
        restalled: job.stalledCounter > 0,
      });
    });
    return active;
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#pending.size === 0) return;
    this.#polling = true;
    try {
      for (const pending of [...this.#pending]) {
        const keys = [...pending.versions.keys()];
        if (keys.length > 0) {
          const pipeline = this.#redis.pipeline();
          for (const key of keys) pipeline.hmget(key, '_v', '_fv');
          const replies = (await pipeline.exec()) ?? [];
          const now = Date.now();
          keys.forEach((key, i) => {
            const [version, flushed] = (replies[i]?.[1] ?? [null, null]) as (string | null)[];
            if (version === null || Number(flushed ?? -1) >= (pending.versions.get(key) as number)) {
              pending.versions.delete(key);
              pending.landedAt.set(key, now);
            }
          });
        }
        this.#settle(pending);
      }
    } finally {
      this.#polling = false;
    }
  }

  /** Records a kill once its worker's keys are known and have all landed. */
  #settle(pending: Pending): void {
    const { held } = pending;
    if (!held || !this.#pending.has(pending)) return;
    if ([...held].some((key) => !pending.landedAt.has(key))) return;
    this.#pending.delete(pending);
    if (held.size === 0) return;
    const restalled = pending.restalled ?? new Set<string>();
    const lastOf = (keys: string[]) =>
      keys.length === 0 ? undefined : Math.max(...keys.map((key) => pending.landedAt.get(key) as number));
    const last = lastOf([...held].filter((key) => !restalled.has(key)));
    const lastRestalled = lastOf([...restalled]);
    this.#records.push({
      atMs: pending.killedAt - this.#startedAt,
      kind: pending.kind,
      keys: held.size,
      ...(last === undefined ? {} : { recoveryMs: last - pending.killedAt }),
      restalled: restalled.size,
      ...(lastRestalled === undefined ? {} : { restalledMs: lastRestalled - pending.killedAt }),
      landed: true,
      duringOutage: this.#overlapsOutage(pending.killedAt, last ?? pending.killedAt),
    });
  }

  #overlapsOutage(from: number, to: number): boolean {
    return this.#outages.some((outage) => from < outage.to && to > outage.from);
  }
}

function jobKey(shard: ShardKeys, data: FlushJobData): string {
  return dataKey(shard, data.entity, data.id);
}

/** Median and maximum over the kills clear of the outage; pure. */
export function summarize(samples: KillRecovery[], killsTotal: number): RecoverySummary {
  const clear = samples
    .filter((s) => s.landed && !s.duringOutage && s.recoveryMs !== undefined)
    .map((s) => s.recoveryMs as number)
    .sort((a, b) => a - b);
  const outage = samples.filter((s) => s.landed && s.duringOutage && s.recoveryMs !== undefined);
  const restalled = samples.filter((s) => s.restalledMs !== undefined).map((s) => s.restalledMs as number);
  const median =
    clear.length === 0
      ? undefined
      : clear.length % 2 === 1
        ? clear[(clear.length - 1) / 2]
        : ((clear[clear.length / 2 - 1] as number) + (clear[clear.length / 2] as number)) / 2;
  return {
    killsTotal,
    kills: samples.length,
    ...(median === undefined ? {} : { medianMs: median, maxMs: clear[clear.length - 1] as number }),
    outageKills: samples.filter((s) => s.duringOutage).length,
    ...(outage.length > 0 ? { outageMaxMs: Math.max(...outage.map((s) => s.recoveryMs as number)) } : {}),
    notLanded: samples.filter((s) => !s.landed).length,
    ...(restalled.length > 0 ? { restalledMaxMs: Math.max(...restalled) } : {}),
    samples,
  };
}
