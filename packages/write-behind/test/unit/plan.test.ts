import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outageBackoff, planFlush, writeIsolatingFailures } from '../../src/flush/plan.ts';
import { counter, string } from '../../src/schema/fields.ts';
import { resolve } from './fixtures/schema.ts';

// Snapshots hold dirty keys only (lua/snapshot.lua leaves clean ones empty).
const definitions = resolve({
  player: { model: 'Player', key: { id: 'int' }, fields: { score: counter(), name: string() } },
});

test('planFlush: upserts, deletes, clean keys left out, duplicates once', () => {
  const item = (key: string, id: string, hash: [string, string][]) => ({
    key,
    entity: 'player',
    id,
    hash: new Map(hash),
  });
  const plans = planFlush(
    [
      item('k1', '1', [
        ['_v', '3'],
        ['score', '7'],
        ['name', 'sAda'],
      ]),
      item('k2', '2', [
        ['_v', '9'],
        ['_d', '1'],
      ]),
      item('k3', '3', []),
      // The same key twice (a stalled job's rerun and its replacement): planned once.
      item('k1', '1', [['_v', '3']]),
    ],
    definitions,
  );
  const plan = plans.get('player');
  assert.ok(plan);
  const [row, ...more] = plan.upserts;
  assert.equal(more.length, 0);
  assert.deepEqual(
    { id: row?.id, version: row?.version, values: row?.values, sqlTexts: row?.sqlTexts },
    { id: '1', version: 3, values: { score: 7, name: 'Ada' }, sqlTexts: ['7', 'Ada'] },
  );
  assert.deepEqual(plan.deletes, [{ id: '2', version: 9 }]);
  assert.deepEqual(
    [...plan.keys],
    [
      ['1', 'k1'],
      ['2', 'k2'],
    ],
  );
});

test('writeIsolatingFailures: bisects down to the bad rows only', async () => {
  const rows = Array.from({ length: 16 }, (_, i) => i);
  let statements = 0;
  const failures = await writeIsolatingFailures(
    rows,
    async (batch) => {
      statements++;
      if (batch.includes(5) || batch.includes(11)) throw new Error('bad row');
    },
    () => false,
  );
  assert.deepEqual(
    failures.map((f) => f.row),
    [5, 11],
  );
  assert.ok(statements <= 1 + 2 * 2 * 4, `statements: ${statements}`);
});

test('writeIsolatingFailures: an unreachable database is thrown, not bisected', async () => {
  let statements = 0;
  await assert.rejects(
    writeIsolatingFailures(
      [1, 2, 3, 4],
      async () => {
        statements++;
        throw new Error('ECONNREFUSED');
      },
      (e) => /ECONNREFUSED/.test((e as Error).message),
    ),
    /ECONNREFUSED/,
  );
  assert.equal(statements, 1);
});

test('outageBackoff doubles, is capped, and jitters ±25%', () => {
  const mid = () => 0.5;
  assert.equal(outageBackoff(1, 100, 1000, mid), 100);
  assert.equal(outageBackoff(3, 100, 1000, mid), 400);
  assert.equal(outageBackoff(10, 100, 1000, mid), 1000);
  assert.equal(
    outageBackoff(1, 100, 1000, () => 0),
    75,
  );
  assert.equal(
    outageBackoff(1, 100, 1000, () => 1),
    125,
  );
});
