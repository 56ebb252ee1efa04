// Guarantee 24 with a parent declared under `parents` (the kinds schema's `Sensor` has no relation field: its
// foreign key to `Gateway`, a UUID key, is in the migration's SQL alone, ON DELETE RESTRICT): gateways and their
// sensors written, updated and deleted in one window over four shards land exact, with 0 failed jobs and no
// foreign key error logged. A sensor whose gateway is in neither the cache nor the database is a refused row
// whose reason names the gateway; a gateway deleted under a sensor names the sensor.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '@write-behind/testkit';
import { createRelationsWorld, type RelationsWorld } from './kinds-world.ts';

let w: RelationsWorld;
before(async () => {
  w = await createRelationsWorld({ flush: { windowMs: 200, attempts: 3, backoffMs: 50 } });
});
after(() => w.close());

/** A UUID of the test's own (`group` tells the tests' gateways apart), in lower case as PostgreSQL prints it. */
const uuid = (group: number, n: number) =>
  `dece${group.toString(16).padStart(4, '0')}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

async function gatewayRows(group: number) {
  const { rows } = await w.db.pool.query(
    `SELECT id::text, label FROM gateways WHERE id::text LIKE $1 || '%' ORDER BY id`,
    [uuid(group, 0).slice(0, 8)],
  );
  return rows;
}

async function sensorRows(from: number, to: number) {
  const { rows } = await w.db.pool.query(
    'SELECT id, gateway_id::text AS "gatewayId", label FROM sensors WHERE id BETWEEN $1 AND $2 ORDER BY id',
    [from, to],
  );
  return rows;
}

test("sensors written with their new gateways, in other shards, wait while the gateways' write is held: exact rows", async () => {
  const mark = w.logs.length;
  const gatewayShard = w.shardOf('gateway', uuid(1, 0));
  const gateways = w.pick('gateway', 3, { in: gatewayShard }, (n) => uuid(1, n));
  const sensors = gateways.flatMap((gateway, d) =>
    w
      .pick('sensor', 3, { notIn: gatewayShard }, (n) => 1000 + 100 * d + n)
      .map((id, i) => ({
        id,
        // Upper case for some: the sensor's parent is the gateway's canonical (lower-case) id all the same.
        gatewayId: i === 0 ? gateway.toUpperCase() : gateway,
        gateway,
      })),
  );
  const rejectedBefore = w.worker.counters.rowsRejected;
  const held = await w.writeWhileHeld(
    { kind: 'upsert', entity: 'gateway' },
    () =>
      Promise.all([
        ...gateways.map((gateway, d) => w.cache.set('gateway', gateway, { label: `gateway ${d}` })),
        ...sensors.map(({ id, gatewayId }) =>
          w.cache.set('sensor', id, { gatewayId, label: `sensor ${id}` }),
        ),
      ]),
    { deferred: sensors.length, waiting: 'the sensors were tried and wait for their gateways' },
  );
  assert.deepEqual(await sensorRows(1000, 1999), [], 'no sensor before its gateway');
  held.release();
  await w.cache.flush();

  assert.deepEqual(
    await gatewayRows(1),
    gateways.map((id, d) => ({ id, label: `gateway ${d}` })).sort((a, b) => a.id.localeCompare(b.id)),
  );
  assert.deepEqual(
    await sensorRows(1000, 1999),
    sensors
      .map(({ id, gateway }) => ({ id, gatewayId: gateway, label: `sensor ${id}` }))
      .sort((a, b) => a.id - b.id),
  );
  await w.assertNoOrderingCost(mark, rejectedBefore);
});

test('gateways and sensors updated in one window, a sensor moved to a new gateway: exact rows', async () => {
  const mark = w.logs.length;
  const [d0, d1, d2] = [0, 1, 2].map((n) => uuid(2, n)) as [string, string, string];
  await w.cache.set('gateway', d0, { label: 'zero' });
  await w.cache.set('gateway', d1, { label: 'one' });
  await Promise.all(
    [2000, 2001, 2002].map((id, i) => w.cache.set('sensor', id, { gatewayId: i ? d1 : d0, label: `s${i}` })),
  );
  await w.cache.flush();
  await Promise.all([
    w.cache.set('gateway', d0, { label: 'zero, renamed' }),
    w.cache.increment('gateway', d1, 'pings', 4),
    w.cache.set('gateway', d2, { label: 'two' }),
    w.cache.set('sensor', 2001, { gatewayId: d2 }),
    w.cache.set('sensor', 2002, { label: 'relabelled' }),
    w.cache.set('sensor', 2003, { gatewayId: d2, label: 's3' }),
  ]);
  await w.cache.flush();
  assert.deepEqual(await gatewayRows(2), [
    { id: d0, label: 'zero, renamed' },
    { id: d1, label: 'one' },
    { id: d2, label: 'two' },
  ]);
  assert.deepEqual(await sensorRows(2000, 2999), [
    { id: 2000, gatewayId: d0, label: 's0' },
    { id: 2001, gatewayId: d2, label: 's1' },
    { id: 2002, gatewayId: d1, label: 'relabelled' },
    { id: 2003, gatewayId: d2, label: 's3' },
  ]);
  await w.assertNoOrderingCost(mark);
});

test('a gateway deleted with its sensors in one window waits for their deletes (held): rows gone, nothing failed', async () => {
  const mark = w.logs.length;
  const gateway = uuid(3, 0);
  const sensors = w.pick('sensor', 3, { notIn: w.shardOf('gateway', gateway) }, (n) => 3000 + n);
  await w.cache.set('gateway', gateway, { label: 'doomed' });
  await Promise.all(sensors.map((id) => w.cache.set('sensor', id, { gatewayId: gateway, label: 'on it' })));
  await w.cache.flush();

  const rejectedBefore = w.worker.counters.rowsRejected;
  const held = await w.writeWhileHeld(
    { kind: 'delete', entity: 'sensor' },
    async () => {
      await w.cache.delete('gateway', gateway);
      await Promise.all(sensors.map((id) => w.cache.delete('sensor', id)));
    },
    {
      deferred: 1,
      waiting: "the gateway's delete, refused for its sensors, waits for their pending deletes",
    },
  );
  assert.equal((await gatewayRows(3)).length, 1, 'the gateway is still there');
  held.release();
  await w.cache.flush();
  assert.deepEqual(await gatewayRows(3), []);
  assert.deepEqual(await sensorRows(3000, 3999), []);
  await w.assertNoOrderingCost(mark, rejectedBefore);
});

test('a sensor whose gateway is in neither the cache nor the database fails, naming the gateway', async () => {
  const ghost = uuid(4, 0);
  await w.cache.set('sensor', 4000, { gatewayId: ghost.toUpperCase(), label: 'lost' });
  assert.ok(await eventually(async () => (await w.failedJobs()).length === 1), 'its job failed');
  assert.deepEqual(await w.failedJobs(), [
    'the database refused sensor "4000": insert or update on table "sensors" violates foreign key constraint "sensors_gateway_id_fkey"; ' +
      `its parent gateway "${ghost}" (sensor.gateway: column gateway_id) is neither in the database nor pending in the cache (23503)`,
  ]);
  // The fix: the gateway is written; a retry of the sensor's job lands it.
  await w.cache.set('gateway', ghost, { label: 'found' });
  await w.cache.flushed('gateway', ghost);
  await w.retryFailed();
  await w.cache.flush();
  assert.deepEqual(await sensorRows(4000, 4000), [{ id: 4000, gatewayId: ghost, label: 'lost' }]);
  assert.deepEqual(await w.failedJobs(), []);
});

test('a gateway deleted while a sensor still points at it (no write of it pending) fails, naming the sensor', async () => {
  const gateway = uuid(5, 0);
  await w.cache.set('gateway', gateway, { label: 'kept' });
  await w.cache.set('sensor', 5000, { gatewayId: gateway, label: 'keeps it' });
  await w.cache.flush();
  await w.cache.delete('gateway', gateway);
  assert.ok(await eventually(async () => (await w.failedJobs()).length === 1), 'its job failed');
  assert.deepEqual(await w.failedJobs(), [
    `the database refused gateway "${gateway}": update or delete on table "gateways" violates foreign key constraint "sensors_gateway_id_fkey" on table "sensors"; ` +
      'rows still point at it with no delete pending in the cache: sensor "5000" (through Sensor.gateway) (delete or move them first) (23503)',
  ]);
  // The fix: delete the sensor, then retry the gateway's delete.
  await w.cache.delete('sensor', 5000);
  await w.cache.flushed('sensor', 5000);
  await w.retryFailed();
  await w.cache.flush();
  assert.deepEqual(await gatewayRows(5), []);
  assert.deepEqual(await w.failedJobs(), []);
});
