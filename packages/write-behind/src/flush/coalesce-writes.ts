import { Cluster, type Redis } from 'ioredis';

/**
 * Holds back what `redis` sends from now until the promise callbacks queued now have run, then sends it in
 * one socket write. A flush batch settles hundreds of jobs at once and BullMQ then sends one command per job;
 * left alone, each is a system call of its own, and on loopback the sender also pays for delivering it.
 * Measured with `npm run bench` (the flush throughput case, docs/BENCHMARKS.md): about a tenth of the flush
 * worker's CPU.
 *
 * A Cluster connection is left alone: its commands go out on one socket per node, opened and replaced as
 * the cluster changes, and nothing here depends on the coalescing.
 */
export function coalesceWrites(redis: Redis | Cluster): void {
  if (redis instanceof Cluster) return;
  const stream = redis.stream;
  // Already corked: the uncork already scheduled covers what is sent now.
  if (!stream || stream.destroyed || stream.writableCorked > 0) return;
  stream.cork();
  setImmediate(() => stream.uncork());
}
