// Entities against a Prisma schema, values against their columns, ids against their keys. No server needed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigurationError, ValidationError } from '../../src/errors.ts';
import {
  canonicalDecimal,
  decodeField,
  decodeRecord,
  describeValue,
  encodeField,
  encodeLoaded,
  fromSqlText,
  toSqlText,
} from '../../src/schema/codec.ts';
import { counter, decimal, enumeration, integer, string } from '../../src/schema/fields.ts';
import { encodeId, keyColumnsOf } from '../../src/schema/id-codec.ts';
import { type ResolvedEntity, type ResolvedField, resolveEntities } from '../../src/schema/resolve.ts';
import { dataModel, device, membership, misfits, player, resolve } from './fixtures/schema.ts';

const field = (name: string) => player.fieldsByName.get(name) as ResolvedField;

describe('the Prisma schema reader', () => {
  test('reads models, mapped names, keys, native types, @updatedAt and enums', () => {
    const model = dataModel.models.get('Player');
    assert.ok(model);
    assert.equal(model.dbName, 'players');
    assert.deepEqual(model.primaryKey, ['id']);
    const byName = new Map(model.fields.map((f) => [f.name, f]));
    assert.deepEqual(byName.get('name')?.native, { name: 'VarChar', args: ['20'] });
    assert.deepEqual(byName.get('balance')?.native, { name: 'Decimal', args: ['12', '2'] });
    assert.equal(byName.get('lastSeen')?.dbName, 'last_seen');
    assert.equal(byName.get('lastSeen')?.optional, true);
    assert.equal(byName.get('updatedAt')?.isUpdatedAt, true);
    assert.equal(byName.get('createdAt')?.hasDefault, true);
    assert.equal(byName.get('posts')?.list, true);
    assert.deepEqual(dataModel.models.get('Membership')?.primaryKey, ['orgId', 'userId']);
    assert.deepEqual(dataModel.enums.get('Tier'), {
      name: 'Tier',
      dbName: 'tier',
      values: [{ name: 'FREE' }, { name: 'PRO', dbName: 'pro' }],
    });
    assert.equal(dataModel.models.has('client'), false, 'generator and datasource blocks are not models');
  });
});

describe('resolving entities', () => {
  test('columns, types and limits come from the schema', () => {
    assert.equal(player.table, 'players');
    assert.deepEqual(
      player.key.map((k) => [k.column, k.kind, k.type.sql]),
      [['id', 'int', 'integer']],
    );
    assert.deepEqual([field('score').min, field('score').max], [-2_147_483_648, 2_147_483_647]);
    assert.deepEqual([field('xp').min, field('xp').max], [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER]);
    assert.equal(field('name').maxLength, 20);
    assert.deepEqual([field('balance').precision, field('balance').scale], [12, 2]);
    assert.deepEqual([field('bonus').precision, field('bonus').scale], [65, 30]);
    assert.equal(field('accuracy').float4, true);
    assert.equal(field('lastSeen').column, 'last_seen');
    assert.equal(field('lastSeen').type.sql, 'timestamp(3) without time zone');
    assert.equal(field('birthday').type.sql, 'date');
    assert.equal(field('prefs').type.sql, 'jsonb');
    assert.equal(field('tier').type.sql, '"tier"');
    assert.deepEqual(player.touched, [
      { column: 'updated_at', type: { sql: 'timestamp(3) without time zone' } },
    ]);
    assert.deepEqual(player.requiredFields, ['name'], 'ratio has @default(0) in the Prisma schema');
    assert.equal(device.key[0]?.type.sql, 'uuid');
    assert.equal(membership.compositeKey, true);
    assert.deepEqual(
      membership.key.map((k) => [k.field, k.column, k.type.sql]),
      [
        ['orgId', 'org_id', 'uuid'],
        ['userId', 'user_id', 'integer'],
      ],
    );
    assert.equal(membership.fieldsByName.get('since')?.type.sql, 'timestamp(3) with time zone');
  });

  const refused: [string, Parameters<typeof resolve>[0], RegExp][] = [
    [
      'an unknown model',
      { p: { model: 'Plyer', fields: { score: counter() } } },
      /entities\.p\.model: the Prisma schema has no model "Plyer" \(models: Player, Post, Device, Membership\)/,
    ],
    ...misfits,
    [
      'a key the model lacks',
      { p: { model: 'Player', key: { ident: 'int' }, fields: { score: counter() } } },
      /model Player has no field "ident" \(the key\)/,
    ],
    [
      'an enum value the enum lacks',
      { p: { model: 'Player', key: { id: 'int' }, fields: { tier: enumeration(['GOLD']) } } },
      /enum Tier has no value "GOLD" \(its values: FREE, PRO\)/,
    ],
    [
      'a default out of the column range',
      { p: { model: 'Player', key: { id: 'int' }, fields: { level: integer({ default: 2 ** 40 }) } } },
      /fields\.level\.default: p\.level is 1099511627776, outside the column's range/,
    ],
    [
      'a default with too many decimals',
      { p: { model: 'Player', key: { id: 'int' }, fields: { balance: decimal({ default: '0.001' }) } } },
      /fields\.balance\.default: .* keeps 2/,
    ],
    [
      'a reserved field name',
      { p: { model: 'Device', key: { id: 'uuid' }, fields: { version: counter() } } },
      /must not include "version"/,
    ],
  ];
  for (const [what, defs, message] of refused) {
    test(`refuses ${what}, naming entity, field and what to change`, () => {
      assert.throws(
        () => resolve(defs),
        (error: unknown) => {
          assert.ok(error instanceof ConfigurationError, String(error));
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});

describe('values against their columns', () => {
  const ok: [string, unknown, unknown][] = [
    ['score', 2_147_483_647, 2_147_483_647],
    ['xp', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
    ['name', 'Ada 🎉', 'Ada 🎉'],
    ['level', null, null],
    ['ratio', -0.125, -0.125],
    ['accuracy', 0.5, 0.5],
    ['balance', '0012.50', '12.5'],
    ['balance', 7n, '7'],
    ['balance', { toFixed: () => '-3.10' }, '-3.1'],
    ['bonus', '0.000000000000000000000000000001', '0.000000000000000000000000000001'],
    ['active', false, false],
    ['lastSeen', new Date('2024-02-29T12:34:56.789Z'), new Date('2024-02-29T12:34:56.789Z')],
    ['lastSeen', '2024-02-29T12:34:56.789Z', new Date('2024-02-29T12:34:56.789Z')],
    ['prefs', { theme: 'dark', list: [1, null, 'x'] }, { theme: 'dark', list: [1, null, 'x'] }],
    ['tier', 'PRO', 'PRO'],
  ];
  for (const [name, input, read] of ok) {
    test(`${name}: ${describeValue(input)} is accepted and reads back as ${describeValue(read)}`, () => {
      assert.deepEqual(decodeField(field(name), encodeField('player', field(name), input)), read);
    });
  }

  const bad: [string, unknown, RegExp][] = [
    [
      'score',
      2_147_483_648,
      /player\.score is 2147483648, outside the column's range -2147483648 to 2147483647/,
    ],
    ['score', 1.5, /player\.score must be an integer, got 1\.5/],
    [
      'name',
      'x'.repeat(21),
      /player\.name is 21 characters long; the limit is 20 \(column name is character varying\(20\)\)/,
    ],
    ['name', 'a\u0000b', /NUL character/],
    ['name', null, /player\.name must not be null/],
    ['accuracy', 1e39, /outside the range of column accuracy \(real\)/],
    ['accuracy', 1e-50, /outside the range of column accuracy \(real\)/],
    ['ratio', Number.NaN, /must be a finite number, got NaN/],
    ['balance', 0.1, /is a decimal: pass 0\.1 as a string/],
    [
      'balance',
      '1.005',
      /has 3 digits after the point; column balance keeps 2 \(numeric\(12,2\)\) and would round it/,
    ],
    [
      'balance',
      '12345678901',
      /too large for column balance \(numeric\(12,2\) holds 10 digits before the point\)/,
    ],
    ['balance', '1e5', /must be a decimal such as "12\.50"/],
    ['lastSeen', new Date(Number.NaN), /must be a valid Date or ISO 8601 string, got Date\(invalid\)/],
    ['lastSeen', new Date('+010000-01-01T00:00:00Z'), /outside the years 0001 to 9999/],
    ['lastSeen', 'yesterday', /must be a valid Date or ISO 8601 string/],
    ['prefs', { n: 10n }, /must be a JSON value: a bigint is not JSON/],
    ['prefs', { s: 'a\u0000' }, /NUL character/],
    ['prefs', undefined, /must not be undefined/],
    ['tier', 'GOLD', /player\.tier must be one of "FREE", "PRO", got "GOLD"/],
    ['active', 'yes', /must be a boolean/],
  ];
  for (const [name, input, message] of bad) {
    test(`${name}: ${String(input).slice(0, 30)} is a ValidationError`, () => {
      assert.throws(
        () => encodeField('player', field(name), input),
        (error: unknown) => {
          assert.ok(error instanceof ValidationError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }

  test('a string in a uuid column must be a UUID, stored lower-case', () => {
    const spec = string();
    const uuidField: ResolvedField = { ...field('name'), spec, uuid: true, type: { sql: 'uuid' } };
    delete uuidField.maxLength;
    assert.equal(
      encodeField('d', uuidField, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'),
      'sa0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    );
    assert.throws(() => encodeField('d', uuidField, 'not-a-uuid'), /must be a UUID/);
  });

  test('database text reads back as the same values, enums by their Prisma names', () => {
    assert.equal(toSqlText(field('tier'), 'PRO'), 'pro', 'the @map of the value');
    assert.equal(fromSqlText(field('tier'), 'pro'), 'PRO');
    assert.equal(toSqlText(field('lastSeen'), new Date(0)), '1970-01-01T00:00:00.000Z');
    assert.deepEqual(fromSqlText(field('lastSeen'), '86400000'), new Date(86_400_000));
    assert.equal(fromSqlText(field('balance'), '12.50'), '12.5');
    assert.deepEqual(fromSqlText(field('prefs'), '{"a": [1]}'), { a: [1] });
    assert.equal(fromSqlText(field('active'), 'false'), false);
    assert.equal(fromSqlText(field('score'), null), 0, 'a missing counter reads 0');
    assert.equal(fromSqlText(field('level'), null), null);
    for (const [name, value] of [
      ['balance', '12.5'],
      ['lastSeen', new Date(5)],
      ['prefs', { a: 1 }],
      ['tier', 'FREE'],
      ['level', null],
    ] as const) {
      assert.deepEqual(decodeField(field(name), encodeLoaded('player', '1', field(name), value)), value);
    }
  });

  test('a record reads every field: counters 0, absent values their default or null', () => {
    const values = decodeRecord(player, new Map([['name', 'sAda']]));
    assert.equal(values.score, 0);
    assert.equal(values.name, 'Ada');
    assert.equal(values.balance, '0');
    assert.equal(values.tier, 'FREE');
    assert.equal(values.active, true);
    assert.equal(values.level, null);
  });

  test('canonical decimals', () => {
    assert.equal(canonicalDecimal('-0.00'), '0');
    assert.equal(canonicalDecimal('+001.2300'), '1.23');
    assert.equal(canonicalDecimal('100'), '100');
    assert.equal(canonicalDecimal('1.'), undefined);
  });
});

describe('ids', () => {
  test('each key kind has one canonical text, which splits back into its columns', () => {
    assert.equal(encodeId(player, 42, 512), '42');
    assert.equal(
      encodeId(device, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 512),
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    );
    const id = { orgId: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', userId: -7 };
    const canonical = encodeId(membership, id, 512);
    assert.equal(canonical, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11/-7');
    assert.deepEqual(keyColumnsOf(membership, canonical), [id.orgId, '-7']);
  });

  test('text parts of a composite key are escaped, so no two ids share a key', () => {
    const [texts] = resolveWithoutSchema();
    const a = encodeId(texts, { a: 'x/y', b: 'z' }, 512);
    const b = encodeId(texts, { a: 'x', b: 'y/z' }, 512);
    assert.notEqual(a, b);
    assert.deepEqual(keyColumnsOf(texts, a), ['x/y', 'z']);
    assert.deepEqual(keyColumnsOf(texts, encodeId(texts, { a: '50%', b: '%2F' }, 512)), ['50%', '%2F']);
  });

  const bad: [string, () => unknown, RegExp][] = [
    [
      'a string for an Int key',
      () => encodeId(player, '42', 512),
      /player id must be an integer from -2147483648 to 2147483647, got "42"/,
    ],
    ['an Int key out of range', () => encodeId(player, 2 ** 31, 512), /must be an integer from/],
    ['a malformed UUID', () => encodeId(device, 'abc', 512), /device id must be a UUID, got "abc"/],
    [
      'a composite id missing a part',
      () => encodeId(membership, { orgId: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }, 512),
      /membership id\.userId must be an integer/,
    ],
    [
      'a composite id with a stray part',
      () => encodeId(membership, { orgId: 'x', userId: 1, role: 'y' }, 512),
      /membership id has no part "role"; its parts: orgId, userId/,
    ],
    [
      'a composite id that is a string',
      () => encodeId(membership, 'a/1', 512),
      /membership id must be an object with orgId, userId/,
    ],
    [
      'an id over the byte limit',
      () => encodeId(resolveWithoutSchema()[1], 'x'.repeat(10), 8),
      /id is 10 bytes long; the limit is 8 \(limits\.maxIdBytes\)/,
    ],
  ];
  for (const [what, call, message] of bad) {
    test(`${what} is a ValidationError`, () => {
      assert.throws(
        call,
        (error: unknown) => error instanceof ValidationError && message.test(error.message),
      );
    });
  }
});

/** Entities resolved without a Prisma schema, as for a store of one's own: a two-text-part key, a plain one. */
function resolveWithoutSchema(): [ResolvedEntity, ResolvedEntity] {
  const map = resolveEntities(
    {
      texts: { model: 'Texts', key: { a: 'string', b: 'string' }, fields: { n: counter() } },
      plain: { model: 'Plain', fields: { n: counter() } },
    },
    undefined,
    encodeField,
  );
  return [map.get('texts') as ResolvedEntity, map.get('plain') as ResolvedEntity];
}
