// The flush's shortcut from a value's Redis form to SQL text equals the long way: decode, then encode.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeField, encodeField, storedToSqlText, toSqlText } from '../../src/schema/codec.ts';
import { player } from './fixtures/schema.ts';

const samples: Record<string, fc.Arbitrary<unknown>> = {
  score: fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }),
  name: fc.string({ maxLength: 20 }).filter((s) => s.isWellFormed() && !s.includes('\u0000')),
  level: fc.option(fc.integer({ min: -2_147_483_648, max: 2_147_483_647 })),
  ratio: fc.double({ noNaN: true, noDefaultInfinity: true }),
  accuracy: fc.option(fc.float({ noNaN: true, noDefaultInfinity: true })),
  balance: fc.integer({ min: -99_999_999, max: 99_999_999 }).map((n) => `${n}.${Math.abs(n) % 100}`),
  active: fc.boolean(),
  lastSeen: fc.option(
    fc.date({
      min: new Date('0001-01-01T00:00:00Z'),
      max: new Date('9999-12-31T00:00:00Z'),
      noInvalidDate: true,
    }),
  ),
  tier: fc.constantFrom('FREE', 'PRO', 'GOLD'),
  prefs: fc.option(fc.jsonValue({ maxDepth: 2 }).filter((v) => !JSON.stringify(v).includes('\\u0000'))),
};

test('storedToSqlText(field, stored) = toSqlText(field, decodeField(field, stored)), for every kind', () => {
  for (const field of player.fields) {
    const sample = samples[field.name];
    // Absent from the hash: the default (or NULL, or 0 for a counter).
    assert.equal(
      storedToSqlText(field, undefined),
      toSqlText(field, decodeField(field, undefined)),
      field.name,
    );
    if (!sample) continue;
    fc.assert(
      fc.property(sample, (value) => {
        let stored: string;
        try {
          stored = encodeField('player', field, value);
        } catch {
          return; // refused at write time: never stored
        }
        assert.equal(
          storedToSqlText(field, stored),
          toSqlText(field, decodeField(field, stored)),
          field.name,
        );
      }),
      { numRuns: 300 },
    );
  }
});
