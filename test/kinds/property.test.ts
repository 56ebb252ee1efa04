// Guarantee 11, as properties: arbitrary strings (lone surrogates and NUL included) and arbitrary JSON (in
// keys too) go through the library to PostgreSQL. Every value acknowledged reads back equal from PostgreSQL;
// every other one was refused at write time with a ValidationError, and only for what PostgreSQL refuses or
// would change. The seed differs per run and is printed; FUZZ_SEED=<n> repeats a run.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ValidationError } from '@write-behind/core';
import fc from 'fast-check';
import { createKindsHarness, type KindsHarness } from './harness.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = 150;

let h: KindsHarness;
before(async () => {
  console.log(`property seed ${SEED} (FUZZ_SEED=${SEED} repeats it)`);
  h = await createKindsHarness({ flush: { windowMs: 50 } });
  await h.startWorker();
});
after(() => h.close());

/** Text PostgreSQL stores unchanged: well-formed UTF-16 and no NUL. */
const storable = (text: string) => text.isWellFormed() && !text.includes('\u0000');

/** Whether every string of a JSON value, keys included, is storable. */
function storableJson(value: unknown): boolean {
  if (typeof value === 'string') return storable(value);
  if (Array.isArray(value)) return value.every(storableJson);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([k, v]) => storable(k) && storableJson(v));
  }
  return true;
}

const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('a', '\u0000', '\ud800', '\udc00', '\\', '"', 'é', '🎉'),
    maxLength: 12,
  }),
);
const anyJson = fc.jsonValue({
  maxDepth: 3,
  stringUnit: fc.constantFrom('a', '\u0000', '\ud83c', '\udf89', 'é', '\\'),
});

async function check<T>(
  samples: T[],
  write: (value: T, id: string) => Promise<unknown>,
  stored: (value: T) => boolean,
  readBack: (ids: string[]) => Promise<Map<string, unknown>>,
  expected: (value: T) => unknown,
): Promise<{ acked: number; refused: number }> {
  const acked: { id: string; value: T }[] = [];
  let refused = 0;
  for (const value of samples) {
    const id = randomUUID();
    try {
      await write(value, id);
      assert.ok(stored(value), `acknowledged a value PostgreSQL cannot store: ${JSON.stringify(value)}`);
      acked.push({ id, value });
    } catch (error) {
      assert.ok(error instanceof ValidationError, `not a ValidationError: ${error}`);
      assert.ok(!stored(value), `refused a storable value: ${JSON.stringify(value)} (${error.message})`);
      refused++;
    }
  }
  await h.cache.flush({ timeoutMs: 60_000 });
  const rows = await readBack(acked.map((a) => a.id));
  for (const { id, value } of acked) {
    assert.deepStrictEqual(rows.get(id), expected(value), `seed ${SEED}: ${JSON.stringify(value)}`);
  }
  assert.equal((await h.cache.stats()).failedKeys, 0, 'no flush was refused');
  return { acked: acked.length, refused };
}

test('arbitrary strings: stored unchanged, or refused at write time', async () => {
  const samples = fc.sample(anyText, { numRuns: RUNS, seed: SEED });
  const outcome = await check(
    samples,
    (label, id) => h.cache.set('device', id, { label }),
    storable,
    async (ids) => {
      const { rows } = await h.db.pool.query<{ id: string; label: string }>(
        'SELECT id::text, label FROM "Device" WHERE id = ANY($1::uuid[])',
        [ids],
      );
      return new Map(rows.map((r) => [r.id, r.label]));
    },
    (label) => label,
  );
  assert.ok(outcome.acked > 0 && outcome.refused > 0, `both outcomes seen: ${JSON.stringify(outcome)}`);
});

test('arbitrary JSON: stored equal, or refused at write time', async () => {
  const samples = fc.sample(anyJson, { numRuns: RUNS, seed: SEED });
  let next = 1;
  const ids = new Map<string, number>();
  const outcome = await check(
    samples,
    (prefs, id) => {
      const key = next++;
      ids.set(id, key);
      return h.cache.set('player', key, { name: 'p', ratio: 0, prefs: prefs as never });
    },
    storableJson,
    async (uuids) => {
      const keys = uuids.map((u) => ids.get(u) as number);
      const { rows } = await h.db.pool.query<{ id: number; prefs: unknown }>(
        'SELECT id, prefs FROM players WHERE id = ANY($1::int[])',
        [keys],
      );
      const byKey = new Map(rows.map((r) => [r.id, r.prefs]));
      return new Map(uuids.map((u) => [u, byKey.get(ids.get(u) as number)]));
    },
    // What JSON itself keeps of the value (-0 becomes 0); PostgreSQL must keep exactly that.
    (prefs) => JSON.parse(JSON.stringify(prefs)),
  );
  assert.ok(outcome.acked > 0 && outcome.refused > 0, `both outcomes seen: ${JSON.stringify(outcome)}`);
});
