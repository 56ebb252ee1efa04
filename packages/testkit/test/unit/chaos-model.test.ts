// The chaos run's model (src/chaos/model.ts): what PostgreSQL must hold after owned writes, shared increments
// and adds, appends, and writes of unknown outcome; no servers needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChaosEvent, ChaosModel, type EventRow } from '../../src/chaos/model.ts';

const keys = { videos: ['v0', 'v1'], settings: ['u0'], hot: ['hot0'], streams: ['ev0'] };
const event = (n: number, context: ChaosEvent['context'] = { client: 0, n }): ChaosEvent => ({
  type: 'view',
  context,
  createdAt: new Date(1_700_000_000_000 + n),
});
const row = (seq: number, e: ChaosEvent, stream = 'ev0'): EventRow => ({
  stream,
  seq,
  type: e.type,
  // jsonb keeps keys in its own order.
  context: e.context ? { n: e.context.n, client: e.context.client } : null,
  createdAtMs: e.createdAt.getTime(),
});

test('an owned video: answered values, adds on top of them, a delete then an add', () => {
  const model = new ChaosModel(keys);
  model.videoCounter('v0', 'likes', 5);
  model.added('v0', 'views', 3);
  model.added('v0', 'views', 2);
  assert.deepEqual(model.expected('video', 'v0'), { likes: 5, views: 5 });
  model.record('video', 'v1', { likes: 7, views: 1 });
  model.record('video', 'v1', null);
  model.added('v1', 'views', 4);
  assert.deepEqual(model.expected('video', 'v1'), { likes: 0, views: 4 }, 'an add recreates the record');
  assert.deepEqual(
    model.checkRows('video', new Map([['v0', { likes: 5, views: 5 }]])).map((m) => [m.id, m.expected]),
    [['v1', { likes: 0, views: 4 }]],
  );
});

test('a shared video is the sum of acknowledged increments and adds; absent until written', () => {
  const model = new ChaosModel(keys);
  assert.equal(model.expected('video', 'hot0'), null);
  model.added('hot0', 'likes', 2);
  model.added('hot0', 'views', 3);
  model.added('hot0', 'views', 1);
  assert.deepEqual(model.expected('video', 'hot0'), { likes: 2, views: 4 });
});

test('a write of unknown outcome leaves its key out until a set or delete defines it again', () => {
  const model = new ChaosModel(keys);
  model.record('video', 'v0', { likes: 1, views: 1 });
  model.unsure('video', 'v0');
  model.added('v0', 'views', 1);
  assert.equal(model.expected('video', 'v0'), undefined);
  assert.deepEqual(model.unsureCount, { keys: 1, events: 0 });
  assert.deepEqual(model.checkRows('video', new Map([['v0', { likes: 9, views: 9 }]])), []);
  model.record('video', 'v0', { likes: 2, views: 2 });
  assert.deepEqual(model.expected('video', 'v0'), { likes: 2, views: 2 });
  assert.deepEqual(model.unsureCount, { keys: 0, events: 0 });
});

test('rows of keys the run does not have are mismatches', () => {
  const model = new ChaosModel(keys);
  const mismatches = model.checkRows('video', new Map([['stray', { likes: 1, views: 0 }]]));
  assert.deepEqual(
    mismatches.map((m) => m.id),
    ['stray'],
  );
});

test('events: each acknowledged one stored once under its number, numbered without a gap', () => {
  const model = new ChaosModel(keys);
  // A stream's numbers start from the shard's clock, not from 1.
  const first = 1_796_340_457_837_500;
  const [a, b, c] = [event(1), event(2, null), event(3)];
  model.appended(0, 'ev0', first, a);
  model.appended(1, 'ev0', first + 1, b);
  model.appended(0, 'ev0', first + 2, c);
  assert.equal(model.eventCount, 3);
  const stored = [row(first, a), row(first + 1, b), row(first + 2, c)];
  assert.deepEqual(model.checkEvents(stored), []);

  const missing = model.checkEvents([row(first, a), row(first + 2, c)]);
  assert.deepEqual(
    missing.map((m) => [m.id, m.actual === null ? 'no row' : m.actual]),
    [
      [`ev0 #${first + 1}`, 'no row'],
      ['ev0', `#${first + 2}`],
    ],
  );
  const altered = model.checkEvents([
    row(first, a),
    row(first + 1, { ...b, type: 'click' }),
    row(first + 2, c),
  ]);
  assert.deepEqual(
    altered.map((m) => m.id),
    [`ev0 #${first + 1}`],
  );
  const extra = [...stored, row(first + 3, event(4))];
  assert.deepEqual(
    model.checkEvents(extra).map((m) => m.id),
    [`ev0 #${first + 3}`],
    'a row nobody acknowledged',
  );
  model.unsure('videoEvent', 'ev0');
  assert.deepEqual(model.checkEvents(extra), [], 'allowed by an append of unknown outcome');
  assert.deepEqual(
    model.checkEvents([...stored, row(1, a, 'elsewhere')]).map((m) => m.id),
    ['elsewhere #1'],
  );
});

test('a number answered twice, or out of a client’s order, contradicts the earlier answer', () => {
  const model = new ChaosModel(keys);
  model.appended(0, 'ev0', 2, event(1));
  model.appended(1, 'ev0', 2, event(2));
  model.appended(0, 'ev0', 1, event(3));
  assert.deepEqual(
    model.contradictions.map((m) => [m.id, m.expected]),
    [
      ['ev0 #2', 'a number answered once'],
      ['ev0 #1', 'above 2 (client 0)'],
    ],
  );
});
