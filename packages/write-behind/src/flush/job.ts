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

export interface FlushJobData {
  entity: string;
  id: string;
}

export interface FlushJob {
  name: typeof FLUSH_JOB;
  data: FlushJobData;
  opts: JobsOptions;
}

/** The flush job of a key that became dirty, run `delayMs` later (the flush window). */
export function flushJob(data: FlushJobData, jobId: string, delayMs: number): FlushJob {
  return { name: FLUSH_JOB, data, opts: delayMs > 0 ? { jobId, delay: delayMs } : { jobId } };
}
