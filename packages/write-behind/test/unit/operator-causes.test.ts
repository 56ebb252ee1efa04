// Failed jobs grouped by cause, without a server: the reason's layout read back, messages normalised, groups,
// selection and batches; ids as operators type them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseActivity } from '../../src/activity.ts';
import { RowRejectedError } from '../../src/flush/flush-batcher.ts';
import {
  batches,
  causeMatches,
  causeOf,
  type FailedJob,
  groupFailures,
  normaliseMessage,
  parseFailedReason,
  selectFailures,
} from '../../src/operator/causes.ts';
import { canonicalIdOf, typedIdOf } from '../../src/operator/ids.ts';
import { counter, dateTime, string } from '../../src/schema/fields.ts';
import { resolve } from './fixtures/schema.ts';

test('parseFailedReason reads back what RowRejectedError writes (a moved layout fails here)', () => {
  const message = 'new row for relation "Video" violates check constraint "likes_positive"';
  const error = new RowRejectedError('video', 'v:1 "x"', { code: '23514', message }, undefined);
  assert.deepEqual(parseFailedReason(error.message), { code: '23514', message });
  const noCode = new RowRejectedError('video', 'v1', { message: 'boom' }, undefined);
  assert.deepEqual(parseFailedReason(noCode.message), { message: 'boom' });
  // A refused event's job adds its number.
  assert.deepEqual(parseFailedReason(`${error.message} (event 12)`), { code: '23514', message });
  assert.deepEqual(parseFailedReason('job stalled more than allowable limit'), {
    message: 'job stalled more than allowable limit',
  });
});

test('normaliseMessage takes out values, numbers and ids, and keeps the names that say what failed', () => {
  assert.equal(
    normaliseMessage('new row for relation "Video" violates check constraint "likes_lt_100"'),
    'new row for relation "Video" violates check constraint "likes_lt_100"',
  );
  assert.equal(
    normaliseMessage('value "99999999999" is out of range for type integer'),
    'value "…" is out of range for type integer',
  );
  assert.equal(
    normaliseMessage('invalid input syntax for type uuid: "abc-123"'),
    'invalid input syntax for type uuid: "…"',
  );
  assert.equal(
    normaliseMessage('Key (id)=(v17) is not present in table "author"'),
    'Key (id)=(…) is not present in table "author"',
  );
  assert.equal(
    normaliseMessage(
      'value too long for type character varying(32) at 3.5 for a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    ),
    'value too long for type character varying(N) at N for <uuid>',
  );
  assert.equal(normaliseMessage("it said 'no'   twice"), "it said '…' twice");
  assert.ok(normaliseMessage('x'.repeat(1000)).length <= 240);
});

test('causes: one per code and normalised message, with a stable id; matched by id or code', () => {
  const a = causeOf('the database refused video "v1": value "1" is out of range for type integer (22003)');
  const b = causeOf('the database refused video "v2": value "777" is out of range for type integer (22003)');
  assert.deepEqual(a, b);
  assert.match(a.id, /^22003-[0-9a-f]{8}$/);
  assert.equal(a.code, '22003');
  assert.ok(causeMatches(a, '22003'));
  assert.ok(causeMatches(a, a.id.toUpperCase()));
  assert.ok(!causeMatches(a, '23514'));
  const other = causeOf('something else');
  assert.match(other.id, /^none-/);
  assert.ok(causeMatches(other, 'none'));
});

const job = (over: Partial<FailedJob> & { id: string; reason: string; failedAt: number }): FailedJob => ({
  entity: 'video',
  jobId: `video.${over.id}.v1`,
  shard: 0,
  kind: 'flush',
  attemptsMade: 1,
  ...over,
});
const check = (id: string) =>
  `the database refused video "${id}": new row for relation "Video" violates check constraint "c" (23514)`;
const fk = (id: string) =>
  `the database refused video "${id}": insert or update on table "Video" violates foreign key constraint "f" (23503)`;

test('groupFailures: by entity and cause, largest first, first and last seen, newest sample', () => {
  const jobs = [
    job({ id: 'a', reason: check('a'), failedAt: 10 }),
    job({ id: 'b', reason: check('b'), failedAt: 30 }),
    job({ id: 'b', jobId: 'video.b.v2', reason: check('b'), failedAt: 40 }),
    job({ id: 'c', reason: fk('c'), failedAt: 20 }),
    job({ id: 'c', entity: 'settings', reason: check('c'), failedAt: 5 }),
  ];
  const groups = groupFailures(jobs, 2);
  assert.deepEqual(
    groups.map((g) => [g.entity, g.cause.code, g.count, g.keys, g.firstSeen, g.lastSeen]),
    [
      ['video', '23514', 3, 2, 10, 40],
      ['video', '23503', 1, 1, 20, 20],
      ['settings', '23514', 1, 1, 5, 5],
    ],
  );
  assert.deepEqual(
    groups[0]?.sample.map((j) => j.jobId),
    ['video.b.v2', 'video.b.v1'],
  );
  assert.equal(groups[0]?.example, 'new row for relation "Video" violates check constraint "c"');
});

test('selectFailures: by cause (and entity) or by keys, oldest first; batches in order', () => {
  const jobs = [
    job({ id: 'a', reason: check('a'), failedAt: 10 }),
    job({ id: 'b', reason: fk('b'), failedAt: 5 }),
    job({ id: 'c', reason: check('c'), failedAt: 1 }),
    job({ id: 'c', entity: 'settings', reason: check('c'), failedAt: 2 }),
  ];
  assert.deepEqual(
    selectFailures(jobs, { cause: '23514', entity: 'video' }).map((j) => j.id),
    ['c', 'a'],
  );
  assert.equal(selectFailures(jobs, { cause: '23514' }).length, 3);
  assert.deepEqual(
    selectFailures(jobs, { keys: [{ entity: 'video', id: 'b' }] }).map((j) => j.id),
    ['b'],
  );
  assert.deepEqual(batches([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
});

test('ids as operators type them: canonical text checked by the key, parts joined as encodeId joins them', () => {
  const entities = resolve({
    player: { model: 'Player', key: { id: 'int' }, fields: { score: counter(), name: string() } },
    membership: {
      model: 'Membership',
      key: { orgId: 'uuid', userId: 'int' },
      fields: { role: string(), visits: counter(), since: dateTime() },
    },
  });
  const player = entities.get('player');
  const membership = entities.get('membership');
  assert.ok(player && membership);
  assert.equal(typedIdOf(player, '42'), 42);
  assert.throws(() => typedIdOf(player, 'x'), /player id must be an integer/);
  const uuid = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
  assert.deepEqual(typedIdOf(membership, `${uuid}/7`), { orgId: uuid, userId: 7 });
  assert.throws(() => typedIdOf(membership, uuid), /2 parts/);
  assert.equal(
    canonicalIdOf(
      [
        { field: 'orgId', kind: 'uuid' },
        { field: 'userId', kind: 'int' },
      ],
      { orgId: uuid.toUpperCase(), userId: '7' },
    ),
    `${uuid}/7`,
  );
  assert.equal(
    canonicalIdOf(
      [
        { field: 'a', kind: 'string' },
        { field: 'b', kind: 'string' },
      ],
      { a: 'x/y', b: '50%' },
    ),
    'x%2Fy/50%25',
  );
  assert.throws(() => canonicalIdOf([{ field: 'id', kind: 'string' }], {}), /needs id/);
});

test('parseActivity: totals and refusals by code', () => {
  assert.deepEqual(
    parseActivity(2, { acknowledged: '10', 'refused:BACKLOG_FULL': '3', rowsWritten: '4', junk: 'x' }),
    {
      shard: 2,
      acknowledged: 10,
      refused: { BACKLOG_FULL: 3 },
      rowsWritten: 4,
      rowsRefused: 0,
      eventsInserted: 0,
      outages: 0,
    },
  );
});
