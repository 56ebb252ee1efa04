/*
 * The one home of what the flush worker reads of BullMQ that BullMQ does not publish: a protected field, a
 * message's text, a score's encoding. The peer range allows any BullMQ 6.x; `test/bullmq-internals.test.ts`
 * exercises each of them against the installed BullMQ and fails when an upgrade moves one.
 */
import type { Queue, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { sleep } from '../util.js';

/** BullMQ's `failedReason` for a job whose worker died more often than `maxStalledCount` allows. */
export const STALLED_REASON = 'stalled more than allowable limit';

/**
 * BullMQ's error for a lock it could not renew (`could not renew lock for job <id>`): either the job finished
 * (or moved to delayed) while the renewal was on its way, or the lock really lapsed and the job may run
 * elsewhere too. Returns the job's id, or `undefined` for any other error.
 */
export function lockRenewalFailedJobId(error: Error): string | undefined {
  return /^could not renew lock for job (.+)$/.exec(error.message)?.[1];
}

/** The time a BullMQ delayed-set score stands for: the due time shifted left by 12 bits (a counter below). */
export function dueAtOfDelayedScore(score: number): number {
  return Math.floor(score / 0x1000);
}

/** The Redis keys of a queue's wait list and delayed set (`queue.keys`, typed loosely by BullMQ). */
export function waitAndDelayedKeys(queue: Queue): { wait: string; delayed: string } {
  const keys = queue.keys as Record<string, string | undefined>;
  if (!keys.wait || !keys.delayed) throw new Error("BullMQ's queue.keys no longer names wait and delayed");
  return { wait: keys.wait, delayed: keys.delayed };
}

/**
 * Lets go of a BullMQ worker whose close did not finish: stops renewing the locks of its jobs (they are left to
 * stalled-job recovery, which renewals would only delay, and the renewal timer would keep the process alive),
 * and cuts its blocking connection, making sure BullMQ hears it end: an ioredis Cluster whose node pool is empty
 * has no connection left to close, so its `disconnect()` never emits `end`, which BullMQ's close waits for
 * (ioredis 6.0.0). `lockManager` is protected in BullMQ 6's types, hence the cast; a BullMQ without it is left
 * to its own close.
 */
export async function abandonWorker(worker: Worker): Promise<void> {
  await lockManagerOf(worker)?.close();
  const connection = blockingConnectionOf(worker);
  if (!connection) return;
  // A connection still starting has no client to cut yet.
  const client = await Promise.race([connection.client.catch(() => undefined), sleep(100)]);
  if (!client) return;
  client.disconnect();
  if ('nodes' in client && client.nodes().length === 0 && client.status !== 'end') client.emit('end');
}

/** The worker's lock manager, which renews its jobs' locks (protected in BullMQ 6). */
export function lockManagerOf(worker: Worker): { close(): Promise<void> } | undefined {
  return (worker as unknown as { lockManager?: { close(): Promise<void> } }).lockManager;
}

/** The worker's blocking connection (`bzpopmin`), not published. */
export function blockingConnectionOf(worker: Worker): { client: Promise<Redis | Cluster> } | undefined {
  return (worker.backend as { blockingConnection?: { client: Promise<Redis | Cluster> } }).blockingConnection;
}
