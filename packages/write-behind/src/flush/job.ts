import type { JobsOptions } from 'bullmq';

/*
 * The shape of the jobs on a shard's queue: one home for their names and data. A flush job's id is made by
 * the Lua scripts alone (lua/includes/flush-job-id.lua); attempts and backoff come from the queue's default
 * job options (see `context.ts`), retention from the worker's options.
 */

/** A flush job: flushes one key, named by entity and canonical id. */
export const FLUSH_JOB = 'flush';
/** The sweep's scheduled job (a BullMQ job scheduler per shard). */
export const SWEEP_JOB = 'sweep';
/**
 * An event of an append entity that the database refused, set aside so the events after it flow: a job that
 * inserts it, run once when set aside (it fails, and waits in the failed set for an operator) and again on
 * each retry from Bull Board. The event itself waits in the shard's refused-event hash (`keys.ts`).
 */
export const REFUSED_EVENT_JOB = 'refused-event';

export interface FlushJobData {
  entity: string;
  id: string;
}

export interface FlushJob {
  name: typeof FLUSH_JOB;
  data: FlushJobData;
  opts: JobsOptions;
}

export interface RefusedEventJobData {
  entity: string;
  id: string;
  sequence: number;
}

/** `%` and `:` percent-encoded, as in lua/includes/flush-job-id.lua: BullMQ refuses `:` in a job id. */
function escapeId(id: string): string {
  return id.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
}

/** The job of a refused event; its id, `refused.<entity>.<id>.s<sequence>`, is also its field in the hash. */
export function refusedEventJob(
  entity: string,
  id: string,
  sequence: number,
): { name: typeof REFUSED_EVENT_JOB; data: RefusedEventJobData; opts: JobsOptions } {
  return {
    name: REFUSED_EVENT_JOB,
    data: { entity, id, sequence },
    opts: { jobId: `refused.${entity}.${escapeId(id)}.s${sequence}`, attempts: 1 },
  };
}

/** The flush job of a key that became dirty, run `delayMs` later (the flush window). */
export function flushJob(data: FlushJobData, jobId: string, delayMs: number): FlushJob {
  return { name: FLUSH_JOB, data, opts: delayMs > 0 ? { jobId, delay: delayMs } : { jobId } };
}
