// Guarantee 17 for every column type: an event's fields reach PostgreSQL exactly. The append insert sends
// events as Redis holds them and decodes each field's stored form in SQL (`storedValueSql`); here that SQL is
// checked, for every field kind and column type of the kinds schema (`Real`, `Decimal(12,2)`, `VarChar(20)`,
// `Uuid`, `Date`, `Timestamptz(3)`, mapped enum values, `Json`), against the cast of the text the flush of a
// record sends for the same value (`storedToSqlText`), both evaluated by PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ValidationError } from '@write-behind/core';
import {
  encodeField,
  type ResolvedField,
  storedToSqlText,
  storedValueSql,
} from '@write-behind/core/internal';
import { createKindsHarness, type EntityName, type KindsHarness, kindsEntities } from './harness.ts';

let h: KindsHarness;
before(async () => {
  h = await createKindsHarness();
});
after(() => h.close());

const DATES = [
  0,
  -1,
  1,
  Date.UTC(2026, 11, 4, 14, 0, 0, 105),
  Date.UTC(1969, 11, 31, 23, 59, 59, 999),
  Date.UTC(1900, 0, 1),
  Date.UTC(2999, 11, 31, 23, 59, 59, 999),
  Date.UTC(9999, 11, 31),
  Date.UTC(1, 0, 1),
];

/** Values of each kind, refused ones included: what a column refuses is left out by `encodeField`. */
function samples(field: ResolvedField): unknown[] {
  const nulls = field.nullable ? [null] : [];
  switch (field.kind) {
    case 'counter':
    case 'integer':
      return [0, -1, 1, 123_456_789, field.min, field.max, ...nulls];
    case 'number':
      return [0, -1.5, 0.1, 1e21, 3.4e38, 1.17e-38, -(2 ** 53), 5e-324, 1.7976931348623157e308, ...nulls];
    case 'decimal':
      return ['0', '-12.34', '9999999999.99', '0.01', 12.5, '1e3', ...nulls];
    case 'string':
      return [
        '',
        'a',
        `quote' "double" \\back`,
        'é🎉 ünï',
        'line\nbreak\ttab',
        ' padded ',
        'x'.repeat(20),
        '0190a8b4-7a4b-7cc3-8f5e-3f0b6a1c2d4e',
        ...nulls,
      ];
    case 'boolean':
      return [true, false, ...nulls];
    case 'dateTime':
      return [...DATES.map((ms) => new Date(ms)), ...nulls];
    case 'json':
      return [{ a: 1, b: [true, null, 'x'] }, [1, 'two'], 'text', 1.5, 0, false, { 'é"k': 'v\n' }, ...nulls];
    case 'enum':
      return [...(field.values ?? []), ...nulls];
  }
}

/** What PostgreSQL makes of `sql` with `params`, as text, or the error's message. */
async function evaluate(sql: string, params: unknown[]): Promise<{ text?: string | null; error?: string }> {
  try {
    const { rows } = await h.db.pool.query(`SELECT (${sql})::text AS v`, params);
    return { text: rows[0]?.v ?? null };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

test('every stored field decodes in SQL to what the cast of its SQL text gives', async () => {
  let compared = 0;
  for (const name of Object.keys(kindsEntities) as EntityName[]) {
    const entity = h.resolvedEntity(name);
    for (const field of entity.fields) {
      for (const value of samples(field)) {
        let stored: string;
        try {
          stored = encodeField(entity.name, field, value);
        } catch (error) {
          if (error instanceof ValidationError) continue;
          throw error;
        }
        const text = storedToSqlText(field, stored);
        const want = await evaluate(`$1::text::${field.type.sql}`, [text]);
        const got = await evaluate(storedValueSql(field, '($1::jsonb->>0)'), [JSON.stringify([stored])]);
        const where = `${entity.name}.${field.name} (${field.type.sql}) ${JSON.stringify(stored)}`;
        if (want.error !== undefined)
          assert.ok(got.error !== undefined, `${where}: refused as text, not as stored`);
        else assert.deepEqual(got, want, where);
        compared++;
      }
    }
  }
  assert.ok(compared > 100, `${compared} values compared`);
});
