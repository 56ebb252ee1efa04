// The writes of a partition test: a primary cut off from its replicas (their replication links frozen by the
// proxy they follow it through) takes 'memory' and 'replicas' writes, then fails over. Redis Cluster and
// Sentinel tests stage the partition and the failover each their own way, and check the same outcome here.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { NotReplicatedError } from '@write-behind/core';
import type { TestEntities } from './entities.ts';
import type { World } from './harness.ts';
import type { PgProxy } from './pg-proxy.ts';
import { withNode } from './redis-server.ts';

/** The likes video `p` gets before the partition, confirmed by a replica. */
const BEFORE = 10;
const MEMORY_WRITES = 5;
const REPLICAS_WRITES = 3;
/** Each 'replicas' increment during the partition: larger than all the 'memory' ones together. */
const REPLICAS_BY = 100;

export interface PartitionWrites {
  /** The likes of the 'replicas' increments acknowledged during the partition. */
  acknowledged: number;
  /** The 'replicas' increments refused with NotReplicatedError during the partition. */
  unconfirmed: number;
  /**
   * After the failover: the replica promoted (listening on `port`) holds every 'replicas' write acknowledged,
   * and, the partition having held, none made during it, so that only the wait for a replica's confirmation
   * could have kept a 'replicas' write from being acknowledged and lost.
   */
  assertKeptOn(port: number, t: TestContext): Promise<void>;
}

/**
 * Writes video `p` across a partition: 10 likes confirmed by a replica, then `link` freezes the
 * replication, then 'memory' increments of 1 and 'replicas' increments of 100, each of those acknowledged
 * (it must then survive the failover) or refused with NotReplicatedError.
 */
export async function writeAcrossPartition(
  world: World<TestEntities>,
  link: PgProxy,
): Promise<PartitionWrites> {
  const confirmed = await world.cache.increment('video', 'p', 'likes', BEFORE, { durability: 'replicas' });
  assert.equal(confirmed, BEFORE, 'confirmed by a replica before the partition');

  link.freezeReplication();
  for (let i = 0; i < MEMORY_WRITES; i++) await world.cache.increment('video', 'p', 'likes', 1);
  let acknowledged = 0;
  let unconfirmed = 0;
  for (let i = 0; i < REPLICAS_WRITES; i++) {
    try {
      await world.cache.increment('video', 'p', 'likes', REPLICAS_BY, { durability: 'replicas' });
      acknowledged += REPLICAS_BY;
    } catch (error) {
      assert.ok(error instanceof NotReplicatedError, `got ${String(error)}`);
      unconfirmed++;
    }
  }

  return {
    acknowledged,
    unconfirmed,
    async assertKeptOn(port, t) {
      const key = world.dataKey('video', 'p');
      const survived = Number(await withNode(port, (r) => r.hget(key, 'likes')));
      t.diagnostic(
        `during the partition: ${MEMORY_WRITES} 'memory' increments acknowledged, ${unconfirmed} of ` +
          `${REPLICAS_WRITES} 'replicas' increments refused with NotReplicatedError; the promoted replica ` +
          `holds likes = ${survived}`,
      );
      assert.ok(
        survived >= BEFORE + acknowledged,
        `a 'replicas' write acknowledged during the partition was lost (holds ${survived}, acknowledged ${BEFORE + acknowledged})`,
      );
      assert.equal(survived, BEFORE, 'the promoted replica lacks every write made during the partition');
      assert.equal(unconfirmed, REPLICAS_WRITES, "no 'replicas' write was acknowledged during the partition");
    },
  };
}
