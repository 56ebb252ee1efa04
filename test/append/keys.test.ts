// Append entities keyed as real schemas key them: an integer key, and a composite key of a uuid and an
// integer. The Prisma store inserts their events both ways a flush can send them, as runs (each key's
// columns repeated for its events) and as rows, into the same rows; a replay of either inserts nothing twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEFAULT_OPTIONS, integer, string } from '@write-behind/core';
import {
  encodeEvent,
  encodeField,
  encodeId,
  PrismaStore,
  parsePrismaSchema,
  type ResolvedEntity,
  resolveEntities,
} from '@write-behind/core/internal';
import { createTestDatabase, type TestDatabase } from '@write-behind/testkit';

const dataModel = parsePrismaSchema(`
datasource db {
  provider = "postgresql"
}

model Reading {
  device Int
  n      BigInt
  value  Int
  @@id([device, n])
  @@map("keys_reading")
}

model Visit {
  orgId  String @db.Uuid @map("org_id")
  userId Int    @map("user_id")
  seq    BigInt
  page   String
  @@id([orgId, userId, seq])
  @@map("keys_visit")
}
`);
const entities = resolveEntities(
  {
    reading: {
      model: 'Reading',
      key: { device: 'int' },
      append: { sequence: 'n' },
      fields: { value: integer() },
    },
    visit: {
      model: 'Visit',
      key: { orgId: 'uuid', userId: 'int' },
      append: { sequence: 'seq' },
      fields: { page: string() },
    },
  },
  dataModel,
  encodeField,
);
const reading = entities.get('reading') as ResolvedEntity;
const visit = entities.get('visit') as ResolvedEntity;

let db: TestDatabase;
let store: PrismaStore;
before(async () => {
  db = await createTestDatabase();
  await db.pool.query(`
    CREATE TABLE keys_reading (device int NOT NULL, n bigint NOT NULL, value int NOT NULL, PRIMARY KEY (device, n));
    CREATE TABLE keys_visit (org_id uuid NOT NULL, user_id int NOT NULL, seq bigint NOT NULL, page text NOT NULL,
      PRIMARY KEY (org_id, user_id, seq));
  `);
  store = new PrismaStore(db.prisma as never, { tombstoneTable: DEFAULT_OPTIONS.tombstoneTable });
});
after(() => db.drop());

/** A run of `count` events of `id` from `first`, made by `event(sequence)`, as a snapshot sends it. */
function run(entity: ResolvedEntity, id: string, first: number, count: number, event: (n: number) => object) {
  const events = Array.from({ length: count }, (_, i) => encodeEvent(entity, event(first + i), 10_000));
  return { id, first, count, events: events.join(',') };
}

test('an integer key: runs and rows insert the same rows, each once', async () => {
  const id = (device: number) => encodeId(reading, device, 1000);
  const runs = [
    run(reading, id(7), 1, 3, (n) => ({ value: 70 + n })),
    run(reading, id(8), 10, 2, (n) => ({ value: 80 + n })),
    run(reading, id(7), 5, 1, (n) => ({ value: 70 + n })),
  ];
  await store.appendRuns(reading, runs);
  await store.appendRuns(reading, runs);
  await store.append(reading, [
    { id: id(9), sequence: 1, values: { value: 91 } },
    { id: id(9), sequence: 2, values: { value: 92 } },
  ]);
  const { rows } = await db.pool.query(
    'SELECT device, n::int AS n, value FROM keys_reading ORDER BY device, n',
  );
  assert.deepEqual(
    rows.map((r) => [r.device, r.n, r.value]),
    [
      [7, 1, 71],
      [7, 2, 72],
      [7, 3, 73],
      [7, 5, 75],
      [8, 10, 90],
      [8, 11, 91],
      [9, 1, 91],
      [9, 2, 92],
    ],
  );
});

test('a composite key of a uuid and an integer: runs and rows insert the same rows, each once', async () => {
  const org = '0b9d6b1e-8c1f-4a57-9a51-3e1f2d7c0a11';
  const id = (userId: number) => encodeId(visit, { orgId: org, userId }, 1000);
  const runs = [
    run(visit, id(1), 100, 2, (n) => ({ page: `/a/${n}` })),
    run(visit, id(2), 200, 3, (n) => ({ page: `/"b",{c}\\${n}` })),
  ];
  await store.appendRuns(visit, runs);
  await store.append(visit, [
    { id: id(2), sequence: 202, values: { page: 'replayed: skipped' } },
    { id: id(3), sequence: 1, values: { page: '/c' } },
  ]);
  const { rows } = await db.pool.query(
    'SELECT org_id::text AS org, user_id, seq::int AS seq, page FROM keys_visit ORDER BY user_id, seq',
  );
  assert.deepEqual(
    rows.map((r) => [r.org, r.user_id, r.seq, r.page]),
    [
      [org, 1, 100, '/a/100'],
      [org, 1, 101, '/a/101'],
      [org, 2, 200, '/"b",{c}\\200'],
      [org, 2, 201, '/"b",{c}\\201'],
      [org, 2, 202, '/"b",{c}\\202'],
      [org, 3, 1, '/c'],
    ],
  );
});
