import assert from 'node:assert/strict';
import test from 'node:test';
import {
  busiestUsPerKey,
  type CostPerKey,
  capacityRates,
  planCapacity,
  poolShares,
  usPerKey,
} from '../../lib/capacity.ts';

const cost: CostPerKey = { workerUsPerKey: 160, redisUsPerKey: 120, postgresUsPerRow: 25, rowsPerKey: 1 };

test('one core of each sustains a million µs divided by its CPU per key (or row)', () => {
  assert.deepEqual(capacityRates(cost), {
    keysPerWorkerCore: 6250,
    keysPerRedisCore: 1e6 / 120,
    rowsPerPostgresCore: 40_000,
  });
  assert.equal(capacityRates({ ...cost, postgresUsPerRow: 0 }).rowsPerPostgresCore, Number.POSITIVE_INFINITY);
});

test('the busiest master is the one with the most CPU per key it served, not the most CPU', () => {
  const masters = [
    { cpuUs: 3_000_000, keys: 30_000 }, // 100 µs per key
    { cpuUs: 2_400_000, keys: 20_000 }, // 120 µs per key: fewer keys, dearer each
    { cpuUs: 0, keys: 0 }, // served no shard: left out
  ];
  assert.equal(busiestUsPerKey(masters), 120);
  assert.equal(busiestUsPerKey([]), 0);
  assert.equal(usPerKey({ cpuUs: 5, keys: 0 }), Number.NaN);
});

test('pooled rounds sum CPU and keys share by share', () => {
  assert.deepEqual(
    poolShares([
      [
        { cpuUs: 10, keys: 1 },
        { cpuUs: 20, keys: 2 },
      ],
      [
        { cpuUs: 30, keys: 3 },
        { cpuUs: 40, keys: 4 },
      ],
    ]),
    [
      { cpuUs: 40, keys: 4 },
      { cpuUs: 60, keys: 6 },
    ],
  );
  assert.deepEqual(poolShares([]), []);
});

test('a rate is planned in cores at the utilization asked, whole processes and masters rounded up', () => {
  // 50,000 keys/s × 160 µs = 8 cores of work; at 80 % that is 10 cores. Redis: 6 cores of work, 7.5 at 80 %.
  assert.deepEqual(planCapacity(cost, 50_000, 0.8), {
    workerCores: 10,
    workerProcesses: 10,
    masters: 8,
    postgresCores: 1.5625,
  });
  // Two rows per key double PostgreSQL's share and nothing else.
  assert.equal(planCapacity({ ...cost, rowsPerKey: 2 }, 50_000, 0.8).postgresCores, 3.125);
  // At least one of each, however small the rate.
  const idle = planCapacity(cost, 0);
  assert.equal(idle.workerProcesses, 1);
  assert.equal(idle.masters, 1);
});

test('a product a hair above a whole number is not rounded up to the next one', () => {
  // 0.1 × 3 is 0.30000000000000004 in floating point: 3 cores of work, not 4.
  const plan = planCapacity({ ...cost, workerUsPerKey: 0.1 * 3 * 1e6, redisUsPerKey: 1e6 }, 10, 1);
  assert.equal(plan.workerProcesses, 3);
  assert.equal(plan.masters, 10);
});

test('a utilization outside (0, 1] or a negative rate is refused, quoting the value', () => {
  assert.throws(() => planCapacity(cost, 1000, 0), /utilization must be in \(0, 1\], got 0/);
  assert.throws(() => planCapacity(cost, 1000, 1.5), /got 1.5/);
  assert.throws(() => planCapacity(cost, -1), /keysPerSec must be ≥ 0, got -1/);
});
