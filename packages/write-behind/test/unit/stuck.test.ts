// When a shard's BullMQ worker counts as stuck (see flush/stuck.ts), and how a delayed-set score reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dueAtOfDelayedScore } from '../../src/flush/bullmq-internals.ts';
import { isStuck, type QueueBacklog } from '../../src/flush/stuck.ts';

const NOW = 1_000_000;
const AFTER = 15_000;
const idle = { lastStartedAt: NOW - AFTER, running: 0 };
const clear: QueueBacklog = { waiting: 0, earliestDueAt: undefined, rateLimited: false, paused: false };

test('idle for the whole period with jobs waiting: stuck', () => {
  assert.equal(isStuck(NOW, idle, { ...clear, waiting: 3 }, AFTER), true);
});

test('a delayed job due for the whole period: stuck (a live fetch would have promoted it)', () => {
  assert.equal(isStuck(NOW, idle, { ...clear, earliestDueAt: NOW - AFTER }, AFTER), true);
  assert.equal(isStuck(NOW, idle, { ...clear, earliestDueAt: NOW - AFTER + 1 }, AFTER), false);
  assert.equal(isStuck(NOW, idle, { ...clear, earliestDueAt: NOW + 500 }, AFTER), false, 'not due yet');
});

test('not stuck: nothing to take, a recent start, jobs of its own running, an outage pause, a paused queue, off', () => {
  assert.equal(isStuck(NOW, idle, clear, AFTER), false);
  assert.equal(
    isStuck(NOW, { lastStartedAt: NOW - AFTER + 1, running: 0 }, { ...clear, waiting: 3 }, AFTER),
    false,
  );
  assert.equal(isStuck(NOW, { ...idle, running: 1 }, { ...clear, waiting: 3 }, AFTER), false);
  assert.equal(isStuck(NOW, idle, { ...clear, waiting: 3, rateLimited: true }, AFTER), false);
  assert.equal(isStuck(NOW, idle, { ...clear, waiting: 3, paused: true }, AFTER), false);
  assert.equal(isStuck(NOW, { lastStartedAt: 0, running: 0 }, { ...clear, waiting: 3 }, 0), false);
});

test("a delayed-set score is BullMQ's due time times 0x1000 plus a counter", () => {
  const due = 1_764_633_600_123;
  assert.equal(dueAtOfDelayedScore(due * 0x1000), due);
  assert.equal(dueAtOfDelayedScore(due * 0x1000 + 0xfff), due);
});
