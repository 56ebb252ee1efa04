// Write-time validation against the columns' types: a value or id the database would refuse (or change) is a
// ValidationError at the call, and nothing reaches Redis: no key, no dirty mark, no job to fail later.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ValidationError } from '@write-behind/core';
import { eventually } from '@write-behind/testkit';
import { createKindsHarness, type KindsHarness } from './harness.ts';

let h: KindsHarness;
before(async () => {
  h = await createKindsHarness({ flush: { windowMs: 50 } });
  // No sweep: its scheduled job would move the queue's counts under the assertions.
  await h.startWorker({ sweep: false });
});
after(() => h.close());

// biome-ignore lint/suspicious/noExplicitAny: the point is to call the API with what TypeScript would refuse.
const cache = () => h.cache as any;
const ORG = '2c1a4c5e-8f6b-4d2a-9c3e-5b7d9f1a3c5e';

/** What a refused write must leave as it was: the data keys, the dirty index and the queue. */
async function redisState(): Promise<unknown> {
  const [keys, stats, jobs] = await Promise.all([h.dataKeys(), h.cache.stats(), h.queue.getJobCounts()]);
  return { keys: keys.sort(), dirty: stats.dirtyKeys, failed: stats.failedKeys, jobs };
}

async function assertRefused(call: () => Promise<unknown>, message: RegExp, code = 'VALIDATION') {
  // A flush that just wrote its row may still be completing its job: let it, so that only the call can change
  // the state compared.
  assert.ok(
    await eventually(async () => (await h.queue.getActiveCount()) === 0, 10_000),
    'no flush in flight',
  );
  const before = await redisState();
  await assert.rejects(call(), (error: unknown) => {
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${error}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
  assert.deepEqual(await redisState(), before, 'the refused write changed nothing in Redis');
}

const player = (values: object) => () => cache().set('player', 100, { name: 'n', ratio: 0, ...values });

const refused: [string, () => Promise<unknown>, RegExp][] = [
  // String @db.VarChar(20): characters, as PostgreSQL counts them.
  [
    'a varchar too long',
    player({ name: 'x'.repeat(21) }),
    /player\.name is 21 characters long; the limit is 20 \(column name is character varying\(20\)\)/,
  ],
  ['a varchar too long in characters, not UTF-16 units', player({ name: '🎉'.repeat(21) }), /21 characters/],
  // Decimal @db.Decimal(12,2) and Decimal? (65,30).
  [
    'a decimal with too many fraction digits',
    player({ balance: '1.005' }),
    /3 digits after the point.*keeps 2/,
  ],
  [
    'a decimal with too many integer digits',
    player({ balance: '12345678901' }),
    /too large for column balance \(numeric\(12,2\) holds 10 digits before the point\)/,
  ],
  ['a (65,30) decimal with 31 fraction digits', player({ bonus: `0.${'1'.repeat(31)}` }), /keeps 30/],
  ['a decimal as a fractional JavaScript number', player({ balance: 0.1 }), /pass 0\.1 as a string/],
  ['a decimal that is not a number', player({ balance: '1e5' }), /must be a decimal/],
  // Enum Tier (@@map("tier"), PRO @map("pro")): Prisma's value names only.
  [
    'a value the enum lacks',
    player({ tier: 'GOLD' }),
    /player\.tier must be one of "FREE", "PRO", got "GOLD"/,
  ],
  ["an enum value's database label instead of its name", player({ tier: 'pro' }), /must be one of/],
  // DateTime, DateTime @db.Date.
  ['an invalid Date', player({ lastSeen: new Date('nope') }), /player\.lastSeen must be a valid Date/],
  ['an impossible ISO date', player({ lastSeen: '2024-13-45T00:00:00Z' }), /must be a valid Date/],
  ['a date that is not ISO 8601', player({ birthday: 'yesterday' }), /player\.birthday must be a valid Date/],
  ['an ISO date followed by junk', player({ lastSeen: '2020-01-01 junk' }), /is not an ISO 8601 date/],
  ['February 30', player({ lastSeen: '2024-02-30T00:00:00Z' }), /has day 30, which 2024-02 does not have/],
  ['hour 24', player({ lastSeen: '2024-02-29T24:00:00Z' }), /has the time 24:00:00/],
  ['a date-time without a zone', player({ lastSeen: '2024-02-29T12:00:00' }), /without a zone/],
  ['microseconds a Date would drop', player({ lastSeen: '2024-02-29T12:00:00.123456Z' }), /millisecond/],
  [
    'a year past 9999',
    player({ lastSeen: new Date('+010000-01-01T00:00:00Z') }),
    /outside the years 0001 to 9999/,
  ],
  // Int?, Float? @db.Real, Boolean, Json?.
  [
    'an Int out of range',
    player({ level: 2 ** 31 }),
    /player\.level is 2147483648, outside the column's range/,
  ],
  ['a fractional Int', player({ level: 1.5 }), /must be an integer/],
  ['a float a real cannot hold', player({ accuracy: 1e39 }), /outside the range of column accuracy \(real\)/],
  ['a float that is not finite', player({ ratio: Number.NaN }), /must be a finite number/],
  ['a boolean as a string', player({ active: 'yes' }), /must be a boolean/],
  ['JSON with NaN', player({ prefs: { n: Number.NaN } }), /must be a JSON value/],
  ['JSON with a bigint', player({ prefs: { n: 1n } }), /must be a JSON value/],
  ['JSON with a lone surrogate', player({ prefs: { k: '\ud800' } }), /JSON string with a lone surrogate/],
  ['JSON with a lone surrogate in a key', player({ prefs: { 'a\udc00': 1 } }), /JSON key with a lone/],
  ['JSON with NUL in a key', player({ prefs: { 'a\u0000': 1 } }), /JSON key with a NUL character/],
  ['JSON with NUL deep in an array', player({ prefs: [[{ s: 'x\u0000' }]] }), /JSON string with a NUL/],
  ['a counter set past the Int range', player({ score: 2 ** 31 }), /player\.score is 2147483648, outside/],
  // Ids: Int, UUID, BigInt and composite keys.
  [
    'an Int id out of range',
    () => cache().increment('player', 2 ** 31, 'score'),
    /player id must be an integer/,
  ],
  ['a fractional Int id', () => cache().get('player', 1.5), /player id must be an integer/],
  ['an Int id as a string', () => cache().get('player', '1'), /player id must be an integer/],
  ['a bad UUID id', () => cache().increment('device', 'not-a-uuid', 'pings'), /device id must be a UUID/],
  ['a UUID id in braces', () => cache().increment('device', `{${ORG}}`, 'pings'), /device id must be a UUID/],
  ['a BigInt id past 2^63-1', () => cache().increment('ledger', 2n ** 63n, 'entries'), /64-bit integer/],
  [
    'a BigInt id as an unsafe number',
    () => cache().increment('ledger', 2 ** 60, 'entries'),
    /64-bit integer/,
  ],
  [
    'a composite id missing a part',
    () => cache().increment('membership', { orgId: ORG }, 'visits'),
    /membership id\.userId must be an integer/,
  ],
  [
    'a composite id with a bad UUID part',
    () => cache().set('membership', { orgId: 'nope', userId: 1 }, { role: 'r', since: new Date() }),
    /membership id\.orgId must be a UUID/,
  ],
  [
    'a composite id with a part too many',
    () => cache().increment('membership', { orgId: ORG, userId: 1, teamId: 2 }, 'visits'),
    /membership id has no part "teamId"/,
  ],
  ['a composite id that is not an object', () => cache().get('membership', `${ORG}/1`), /must be an object/],
];

for (const [what, call, message] of refused) {
  test(`rejects ${what}, changing nothing`, () => assertRefused(call, message));
}

test('player: an Int counter pushed past 2^31-1 is refused with COUNTER_OVERFLOW and keeps its value', async () => {
  await h.cache.set('player', 1, { name: 'max', ratio: 0, score: 2_147_483_640 });
  await h.cache.flushed('player', 1); // settled, so that Redis holds still while the refusals are checked
  await assertRefused(
    () => h.cache.increment('player', 1, 'score', 10),
    /player\.score would leave its range -2147483648 to 2147483647 \(column score is integer\): it is 2147483640, the increment is 10/,
    'COUNTER_OVERFLOW',
  );
  await assertRefused(
    () => h.cache.increment('player', 1, 'score', -(2 ** 32)),
    /would leave/,
    'COUNTER_OVERFLOW',
  );
  assert.equal(await h.cache.increment('player', 1, 'score', 7), 2_147_483_647, 'up to the limit is fine');
  await h.cache.flushed('player', 1);
  const { rows } = await h.db.pool.query('SELECT score FROM players WHERE id = 1');
  assert.equal(rows[0]?.score, 2_147_483_647);
});

test('player: a BigInt counter is refused past 2^53-1 (what a number holds exactly)', async () => {
  await h.cache.set('player', 2, { name: 'big', ratio: 0, xp: Number.MAX_SAFE_INTEGER });
  await h.cache.flushed('player', 2);
  await assertRefused(
    () => h.cache.increment('player', 2, 'xp'),
    /player\.xp would leave its range/,
    'COUNTER_OVERFLOW',
  );
  assert.equal((await h.cache.get('player', 2))?.xp, Number.MAX_SAFE_INTEGER);
});

test('player: a cold Int counter at its limit is refused too, and the stored row stays as it was', async () => {
  await h.db.pool.query(
    `INSERT INTO players (id, score, name, updated_at, version) VALUES (3, 2147483647, 'stored', '2020-01-01', 2)`,
  );
  await assert.rejects(h.cache.increment('player', 3, 'score'), (error: unknown) => {
    assert.ok(error instanceof ValidationError && error.code === 'COUNTER_OVERFLOW', String(error));
    return true;
  });
  assert.equal((await h.cache.get('player', 3))?.score, 2_147_483_647);
  assert.equal((await h.cache.stats()).dirtyKeys, 0, 'the refused write made no key dirty');
  const { rows } = await h.db.pool.query('SELECT score, version::int FROM players WHERE id = 3');
  assert.deepEqual(rows[0], { score: 2_147_483_647, version: 2 });
});

test('player: an increment up to 2^53-1 returns the exact new value', async () => {
  await h.cache.set('player', 4, { name: 'edge', ratio: 0, xp: Number.MAX_SAFE_INTEGER - 2 });
  assert.equal(await h.cache.increment('player', 4, 'xp', 2), Number.MAX_SAFE_INTEGER);
  assert.equal((await h.cache.get('player', 4))?.xp, Number.MAX_SAFE_INTEGER);
});
