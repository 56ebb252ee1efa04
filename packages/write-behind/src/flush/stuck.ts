/**
 * When a shard's BullMQ worker is stuck: the decision is pure so that it can be tested without parking a real
 * fetch loop; the flush worker reads the figures and acts on them.
 */

/** What the flush worker knows of one shard's BullMQ worker. */
export interface ShardActivity {
  /** When it last started a job, or when it started running (ms since the epoch). */
  lastStartedAt: number;
  /** Its jobs running now. */
  running: number;
}

/** What the shard's queue holds, read from Redis. */
export interface QueueBacklog {
  /** Jobs in the wait list. */
  waiting: number;
  /** When the earliest delayed job became due (ms since the epoch), if any. */
  earliestDueAt: number | undefined;
  /** Whether an outage pause (the queue's rate limit) holds every worker back on purpose. */
  rateLimited: boolean;
  /** Whether an operator paused the queue (Bull Board's pause). */
  paused: boolean;
}

/**
 * Stuck: for `stuckAfterMs` it started nothing while jobs were there to take (waiting, or delayed and due
 * that long: a worker's fetch also promotes due delayed jobs, so a parked one leaves them delayed), with none
 * of its own running (a worker at work may just be busy), no outage pause in force and the queue not paused.
 */
export function isStuck(
  now: number,
  activity: ShardActivity,
  backlog: QueueBacklog,
  stuckAfterMs: number,
): boolean {
  if (stuckAfterMs === 0 || activity.running > 0 || backlog.rateLimited || backlog.paused) return false;
  if (now - activity.lastStartedAt < stuckAfterMs) return false;
  const overdue = backlog.earliestDueAt !== undefined && now - backlog.earliestDueAt >= stuckAfterMs;
  return backlog.waiting > 0 || overdue;
}
