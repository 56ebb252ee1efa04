// The pure part of flushing related rows: a batch's parents, the rows that wait for a parent's pending
// flush, and what a refused row's reason says. No server needed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PlannedRun } from '../../src/flush/append-plan.ts';
import { type KeyState, keyStateOf } from '../../src/flush/key-states.ts';
import { type EntityPlan, planFlush } from '../../src/flush/plan.ts';
import {
  batchParents,
  blockingChildrenMessage,
  CHILDREN_NAMED,
  describeParent,
  holdsParentDelete,
  isPending,
  keepsChildWaiting,
  type Locate,
  missingParentMessage,
  type ParentRef,
  parentRefs,
  waitingChildren,
  withoutKeys,
  writtenSinceDelete,
} from '../../src/flush/relation-plan.ts';
import { encodeEvent } from '../../src/schema/event-codec.ts';
import type { ForeignKey } from '../../src/schema/relations.ts';
import type { ResolvedEntity } from '../../src/schema/resolve.ts';
import { related, relationDefinitions, resolveOn } from './fixtures/relations.ts';

const SHARDS: Record<string, number> = { comment: 0, athlete: 0, video: 1, sensor: 1, team: 2, videoStat: 2 };
/** A key as `${entity}:${id}`, in a shard chosen by entity, so that a test reads both at a glance. */
const locate: Locate = (entity, id) => ({ shard: SHARDS[entity] ?? 3, key: `${entity}:${id}` });

const entity = (name: string) => related.get(name) as ResolvedEntity;
const fk = (child: string, name: string) =>
  [...entity(child).parents, ...entity(child).children].find(
    (f) => f.name === name && (f.childEntity === child || f.childModel === entity(child).model),
  ) as ForeignKey;
const childFk = (parent: string, childModel: string) =>
  entity(parent).children.find((f) => f.childModel === childModel) as ForeignKey;

/** A snapshot item, as `lua/snapshot.lua` returns a dirty key's hash (fields in their Redis form). */
const item = (name: string, id: string, hash: Record<string, string>) => ({
  key: `${name}:${id}`,
  entity: name,
  id,
  hash: new Map(Object.entries(hash)),
});
const video = (id: string) => item('video', id, { _v: '4', likes: '1' });
const comment = (id: string, videoId: string, replyToId?: string) =>
  item('comment', id, {
    _v: '5',
    videoId: `s${videoId}`,
    replyToId: replyToId === undefined ? 'z' : `s${replyToId}`,
    body: `son ${videoId}`,
  });
const deleted = (name: string, id: string) => item(name, id, { _v: '6', _d: '1' });
/** A key made by `add` alone: sums, no fields. */
const sums = (name: string, id: string, counter: string) =>
  item(name, id, { _v: '7', _p: '1', [`~${counter}`]: '3' });
const flag = (id: string, commentId: string) =>
  item('flag', id, { _v: '3', commentId: `s${commentId}`, reason: 'sspam' });
const athlete = (id: string, league: string, teamCode: string) =>
  item('athlete', id, { _v: '2', league: `s${league}`, teamCode: `s${teamCode}`, name: 'sAda' });

const plansOf = (...items: ReturnType<typeof item>[]) => planFlush(items, related);
const summary = (refs: readonly ParentRef[] | undefined) =>
  refs?.map((r) => ({
    fk: `${r.fk.childModel}.${r.fk.name}`,
    entity: r.entity,
    id: r.id,
    shard: r.shard,
    key: r.key,
  }));

const NEW: KeyState = { present: true, dirty: true, deleted: false, flushedBefore: false };
const FLUSHED_DIRTY: KeyState = { present: true, dirty: true, deleted: false, flushedBefore: true };
const CLEAN: KeyState = { present: true, dirty: false, deleted: false, flushedBefore: true };
const DELETING: KeyState = { present: true, dirty: true, deleted: true, flushedBefore: true };
const ABSENT: KeyState = { present: false, dirty: false, deleted: false, flushedBefore: false };

describe('parentRefs', () => {
  test("a row's parents from its fields, in the entity's relation order; a null foreign key is no parent", () => {
    assert.deepEqual(summary(parentRefs(entity('comment'), 'c2', ['v1', 'c1', 'hi', '0'], related, locate)), [
      { fk: 'Comment.video', entity: 'video', id: 'v1', shard: 1, key: 'video:v1' },
      { fk: 'Comment.replyTo', entity: 'comment', id: 'c1', shard: 0, key: 'comment:c1' },
    ]);
    assert.deepEqual(summary(parentRefs(entity('comment'), 'c1', ['v1', null, 'hi', '0'], related, locate)), [
      { fk: 'Comment.video', entity: 'video', id: 'v1', shard: 1, key: 'video:v1' },
    ]);
  });

  test('a row of sums alone: only a foreign key held by its key names a parent', () => {
    assert.deepEqual(summary(parentRefs(entity('comment'), 'c1', undefined, related, locate)), []);
    assert.deepEqual(summary(parentRefs(entity('videoStat'), 'v7', undefined, related, locate)), [
      { fk: 'VideoStat.video', entity: 'video', id: 'v7', shard: 1, key: 'video:v7' },
    ]);
  });

  test("a composite-key parent: its canonical id, in its key's order, a '/' in a part escaped", () => {
    // Athlete's foreign key lists (teamCode, league); Team's key is (league, code).
    assert.deepEqual(summary(parentRefs(entity('athlete'), '1', ['A/B', 'x%', 'Ada'], related, locate)), [
      { fk: 'Athlete.team', entity: 'team', id: 'A%2FB/x%25', shard: 2, key: 'team:A%2FB/x%25' },
    ]);
  });

  test('a declared parent with a UUID key: its canonical id in lower case', () => {
    assert.deepEqual(
      summary(
        parentRefs(entity('sensor'), '9', ['0E1B7C9A-3F00-4A55-9C1D-2B9F00AA11CC', 'probe'], related, locate),
      ),
      [
        {
          fk: 'Sensor.device',
          entity: 'device',
          id: '0e1b7c9a-3f00-4a55-9c1d-2b9f00aa11cc',
          shard: 3,
          key: 'device:0e1b7c9a-3f00-4a55-9c1d-2b9f00aa11cc',
        },
      ],
    );
  });

  test('a relation set to false names no parent', () => {
    const entities = resolveOn({
      ...relationDefinitions,
      comment: { ...relationDefinitions.comment, parents: { video: false } },
    });
    const refs = parentRefs(
      entities.get('comment') as ResolvedEntity,
      'c2',
      ['v1', 'c1', 'hi', '0'],
      entities,
      locate,
    );
    assert.deepEqual(summary(refs), [
      { fk: 'Comment.replyTo', entity: 'comment', id: 'c1', shard: 0, key: 'comment:c1' },
    ]);
  });
});

describe('batchParents', () => {
  test('none when no entity of the batch has parents the cache writes', () => {
    assert.equal(
      batchParents(plansOf(video('v1'), item('team', 'A/x', { _v: '1', name: 'sAnts' })), related, locate),
      undefined,
    );
  });

  test("each child key's parents; the parent keys to read (not written by the batch, deleted ones too) once, by shard", () => {
    const plans = plansOf(
      video('v1'),
      comment('c1', 'v1'),
      comment('c2', 'v2'),
      comment('c3', 'v1', 'c1'),
      comment('c4', 'v2', 'c9'),
      deleted('video', 'v3'),
      comment('c5', 'v3'),
      deleted('comment', 'c6'),
      sums('comment', 'c7', 'votes'),
      sums('videoStat', 'v2', 'views'),
      item('team', 'A%2FB/x', { _v: '1', name: 'sAnts' }),
      athlete('1', 'A/B', 'x'),
      athlete('2', 'A', 'y'),
    );
    const parents = batchParents(plans, related, locate);
    assert.ok(parents);
    assert.deepEqual(
      Object.fromEntries([...parents.refs].map(([key, refs]) => [key, summary(refs)?.map((r) => r.key)])),
      {
        'comment:c1': ['video:v1'],
        'comment:c2': ['video:v2'],
        'comment:c3': ['video:v1', 'comment:c1'],
        'comment:c4': ['video:v2', 'comment:c9'],
        'comment:c5': ['video:v3'],
        'videoStat:v2': ['video:v2'],
        'athlete:1': ['team:A%2FB/x'],
        'athlete:2': ['team:A/y'],
      },
    );
    assert.deepEqual(
      parents.toRead,
      new Map([
        [1, ['video:v2', 'video:v3']],
        [0, ['comment:c9']],
        [2, ['team:A/y']],
      ]),
    );
    assert.deepEqual([...parents.written].sort(), [
      'athlete:1',
      'athlete:2',
      'comment:c1',
      'comment:c2',
      'comment:c3',
      'comment:c4',
      'comment:c5',
      'comment:c7',
      'team:A%2FB/x',
      'video:v1',
      'videoStat:v2',
    ]);
  });

  test("an append entity's events name the parent their key holds", () => {
    const plans = new Map([['videoEvent', eventPlan('vNew')]]);
    const parents = batchParents(plans, related, locate);
    assert.deepEqual(summary(parents?.refs.get('videoEvent:vNew'))?.[0], {
      fk: 'VideoEvent.video',
      entity: 'video',
      id: 'vNew',
      shard: 1,
      key: 'video:vNew',
    });
    assert.deepEqual(parents?.toRead, new Map([[1, ['video:vNew']]]));
    assert.deepEqual([...(parents?.written ?? [])], [], 'events are not parents');
  });
});

const events = related.get('videoEvent') as ResolvedEntity;

/** One event of `videoEvent` on key `id`, planned as `planFlush` plans it. */
function eventPlan(id: string): EntityPlan {
  return {
    upserts: [],
    deltas: [],
    deletes: [],
    appends: [new PlannedRun(events, id, 1, 1, encodeEvent(events, { type: 'click' }, 1000))],
    appendedKeys: [{ id, version: 1, events: 1, more: false }],
    keys: new Map([[id, `videoEvent:${id}`]]),
  };
}

function waiting(plans: Map<string, EntityPlan>, states: Record<string, KeyState>): string[] {
  const parents = batchParents(plans, related, locate);
  assert.ok(parents);
  return [...waitingChildren(parents, new Map(Object.entries(states)), related, plans)].sort();
}

describe('waitingChildren', () => {
  test('a child waits for a parent pending and never flushed; not for one flushed before, clean, absent, being deleted, or written in the batch', () => {
    const plans = plansOf(
      comment('new', 'vNew'),
      comment('hot', 'vHot'),
      comment('clean', 'vClean'),
      comment('absent', 'vAbsent'),
      comment('unread', 'vUnread'),
      comment('deleting', 'vDeleting'),
      comment('same', 'vSame'),
      video('vSame'),
    );
    assert.deepEqual(
      waiting(plans, {
        'video:vNew': NEW,
        'video:vHot': FLUSHED_DIRTY,
        'video:vClean': CLEAN,
        'video:vAbsent': ABSENT,
        'video:vDeleting': DELETING,
        // Pending and new, but the batch writes it, before its comments.
        'video:vSame': NEW,
      }),
      ['comment:new'],
    );
  });

  test('a self-referencing chain waits whole for its pending root, whatever the order of its keys', () => {
    const chain = [comment('r3', 'v1', 'r2'), comment('r2', 'v1', 'r1'), comment('r1', 'v1', 'root')];
    const plans = plansOf(...chain, comment('other', 'v1', 'elsewhere'));
    assert.deepEqual(waiting(plans, { 'video:v1': CLEAN, 'comment:root': NEW, 'comment:elsewhere': CLEAN }), [
      'comment:r1',
      'comment:r2',
      'comment:r3',
    ]);
    assert.deepEqual(
      waiting(plans, { 'video:v1': CLEAN, 'comment:root': CLEAN }),
      [],
      'a root flushed before',
    );
  });

  test('a self-referencing chain whose root the batch writes goes in one statement: nothing waits', () => {
    const plans = plansOf(comment('r2', 'v1', 'r1'), comment('r1', 'v1', 'root'), comment('root', 'v1'));
    assert.deepEqual(waiting(plans, { 'video:v1': CLEAN, 'comment:root': NEW, 'comment:r1': NEW }), []);
  });

  test('a waiting parent holds back its children of other entities in the batch, whatever the order of the plans', () => {
    const plans = plansOf(
      flag('1', 'c1'),
      flag('2', 'c2'),
      sums('videoStat', 'vNew', 'views'),
      comment('c1', 'vNew'),
      comment('c2', 'vOld'),
    );
    plans.set('videoEvent', eventPlan('vNew'));
    assert.deepEqual(waiting(plans, { 'video:vNew': NEW, 'video:vOld': CLEAN }), [
      'comment:c1',
      'flag:1',
      'videoEvent:vNew',
      'videoStat:vNew',
    ]);
  });
});

describe('the states a flush reads', () => {
  const cases: [
    string,
    (string | null)[] | undefined,
    { keeps: boolean; pending: boolean; holds: boolean; again: boolean },
  ][] = [
    ['not in Redis', [null, null, null], { keeps: false, pending: false, holds: false, again: false }],
    ['unknown', undefined, { keeps: false, pending: false, holds: false, again: false }],
    ['new, never flushed', ['5', null, null], { keeps: true, pending: true, holds: false, again: true }],
    ['new, flushed version 0', ['5', '0', null], { keeps: true, pending: true, holds: false, again: true }],
    [
      'flushed before, written since',
      ['5', '3', null],
      { keeps: false, pending: true, holds: false, again: true },
    ],
    ['clean', ['5', '5', null], { keeps: false, pending: false, holds: false, again: true }],
    ['a delete pending', ['7', '5', '1'], { keeps: false, pending: true, holds: true, again: false }],
    ['a delete flushed', ['7', '7', '1'], { keeps: false, pending: false, holds: false, again: false }],
    [
      'made and deleted, never flushed',
      ['7', null, '1'],
      { keeps: true, pending: true, holds: true, again: false },
    ],
  ];
  for (const [name, reply, expected] of cases) {
    test(`${name}: keepsChildWaiting ${expected.keeps}, isPending ${expected.pending}, holdsParentDelete ${expected.holds}, writtenSinceDelete ${expected.again}`, () => {
      const state = reply && keyStateOf(reply);
      assert.deepEqual(
        {
          keeps: keepsChildWaiting(state),
          pending: isPending(state),
          holds: holdsParentDelete(state),
          again: writtenSinceDelete(state),
        },
        expected,
      );
    });
  }
});

test('withoutKeys takes the rows of the keys given out of every part of a plan, and keeps the others', () => {
  const plan: EntityPlan = {
    upserts: [
      { id: 'a', version: 1, values: {} },
      { id: 'b', version: 1, values: {} },
    ],
    deltas: [{ id: 'c', version: 2, sums: { views: 1 } }],
    deletes: [
      { id: 'd', version: 3 },
      { id: 'e', version: 3 },
    ],
    appends: [
      new PlannedRun(events, 'f', 1, 2, 'f1,f2'),
      new PlannedRun(events, 'g', 1, 1, 'g1'),
      new PlannedRun(events, 'f', 3, 1, 'f3'),
    ],
    appendedKeys: [
      { id: 'f', version: 2, events: 2, more: false },
      { id: 'g', version: 1, events: 1, more: false },
    ],
    keys: new Map(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((id) => [id, `k:${id}`])),
  };
  const kept = withoutKeys(plan, new Set(['k:a', 'k:c', 'k:e', 'k:f']));
  assert.deepEqual(
    {
      upserts: kept.upserts.map((r) => r.id),
      deltas: kept.deltas.map((r) => r.id),
      deletes: kept.deletes.map((r) => r.id),
      appends: kept.appends.map((r) => `${r.id}${r.first}+${r.count}`),
      events: kept.appends.map((r) => r.events),
      appendedKeys: kept.appendedKeys.map((r) => r.id),
    },
    {
      upserts: ['b'],
      deltas: [],
      deletes: ['d'],
      appends: ['g1+1'],
      events: ['g1'],
      appendedKeys: ['g'],
    },
  );
  assert.equal(kept.keys, plan.keys);
  assert.equal(plan.upserts.length, 2, 'the plan given is left as it was');
});

describe('messages', () => {
  const team = fk('athlete', 'team');
  const DB =
    'insert or update on table "Athlete" violates foreign key constraint "Athlete_team_code_league_fkey"';

  test('describeParent: an entity and its id, or a table and its key columns', () => {
    assert.equal(describeParent(team, ['A/B', 'x'], 'A%2FB/x'), 'team "A%2FB/x"');
    assert.equal(describeParent(team, ['A/B', 'x']), 'table "teams" (league = "A/B", team_code = "x")');
  });

  test('missingParentMessage: the database message, then each parent missing and the columns that name it', () => {
    assert.equal(
      missingParentMessage('athlete', DB, [{ fk: team, values: ['A/B', 'x'], parentId: 'A%2FB/x' }]),
      `${DB}; its parent team "A%2FB/x" (athlete.team: columns league, team_code) is neither in the database nor pending in the cache`,
    );
    assert.equal(
      missingParentMessage('comment', 'refused', [
        { fk: fk('comment', 'video'), values: ['v1'], parentId: 'v1' },
        { fk: fk('comment', 'replyTo'), values: ['c0'] },
      ]),
      'refused; its parents video "v1" (comment.video: column video_id) and table "comment" (id = "c0") (comment.replyTo: column reply_to_id) are neither in the database nor pending in the cache',
    );
  });

  test('blockingChildrenMessage: the rows still pointing at a row, by entity or table, "..." when there are more', () => {
    assert.equal(CHILDREN_NAMED, 5);
    assert.equal(
      blockingChildrenMessage('refused', [
        { fk: childFk('video', 'Comment'), rows: ['c1', 'c2'] },
        { fk: childFk('video', 'Tag'), rows: ['7'] },
      ]),
      'refused; rows still point at it with no delete pending in the cache: comment "c1", "c2" (through Comment.video); table "tag" "7" (through Tag.video) (delete or move them first)',
    );
    const rows = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
    assert.equal(
      blockingChildrenMessage('refused', [{ fk: childFk('video', 'Comment'), rows: rows(5) }]),
      'refused; rows still point at it with no delete pending in the cache: comment "c0", "c1", "c2", "c3", "c4" (through Comment.video) (delete or move them first)',
      'exactly as many as it names: no "..."',
    );
    assert.equal(
      blockingChildrenMessage('refused', [{ fk: childFk('video', 'Comment'), rows: rows(6) }]),
      'refused; rows still point at it with no delete pending in the cache: comment "c0", "c1", "c2", "c3", "c4", ... (through Comment.video) (delete or move them first)',
    );
  });
});
