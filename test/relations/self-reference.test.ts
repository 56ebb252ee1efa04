// Guarantee 24 with a self-reference (the kinds schema's `Message`, whose `reply_to_id` points at a message of
// the same table, ON DELETE RESTRICT): threads written, updated and deleted in one window over four shards land
// exact, with 0 failed jobs and no foreign key error logged. A reply waits for its parent's first flush
// however deep the thread; replies in the batch of their parent go in its statement. A reply to a message in
// neither the cache nor the database is a refused row whose reason names that message; a message deleted under
// a reply names the reply.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '@write-behind/testkit';
import { createRelationsWorld, type RelationsWorld } from './kinds-world.ts';

let w: RelationsWorld;
before(async () => {
  w = await createRelationsWorld({ flush: { windowMs: 200, attempts: 3, backoffMs: 50 } });
});
after(() => w.close());

/** The messages whose id starts with `prefix`, as PostgreSQL holds them. */
async function messageRows(prefix: string) {
  const { rows } = await w.db.pool.query(
    `SELECT id, reply_to_id AS "replyToId", body FROM messages WHERE id LIKE $1 || '%' ORDER BY id`,
    [prefix],
  );
  return rows;
}

const say = (id: string, replyToId: string | null, body = `${id} says hi`) =>
  w.cache.set('message', id, { replyToId, body });

test('a thread written in one window, its root held: every reply waits, however deep, then lands exact', async () => {
  const mark = w.logs.length;
  const rootShard = w.shardOf('message', 'deep-root');
  // Replies in shards other than the root's, each replying to the one before it, and siblings of the first.
  const [a, b, c, s1, s2] = w.pick('message', 5, { notIn: rootShard }, (n) => `deep-${n}`) as [
    string,
    string,
    string,
    string,
    string,
  ];
  const thread: [string, string | null][] = [
    ['deep-root', null],
    [a, 'deep-root'],
    [b, a],
    [c, b],
    [s1, 'deep-root'],
    [s2, a],
  ];
  const rejectedBefore = w.worker.counters.rowsRejected;
  const held = await w.writeWhileHeld(
    { kind: 'upsert', entity: 'message', ids: ['deep-root'] },
    async () => {
      // The deepest reply first: no order of writes makes it land before its parents.
      await Promise.all([...thread].reverse().map(([id, replyToId]) => say(id, replyToId)));
    },
    { deferred: thread.length - 1, waiting: 'the replies were tried and wait for their parents' },
  );
  assert.deepEqual(await messageRows('deep-'), [], 'no reply before the message it answers');
  held.release();
  await w.cache.flush();

  assert.deepEqual(
    await messageRows('deep-'),
    thread
      .map(([id, replyToId]) => ({ id, replyToId, body: `${id} says hi` }))
      .sort((x, y) => x.id.localeCompare(y.id)),
  );
  await w.assertNoOrderingCost(mark, rejectedBefore);
});

test('a thread in one shard, replies written before the messages they answer: exact rows, nothing refused', async () => {
  const mark = w.logs.length;
  const shard = w.shardOf('message', 'one-0');
  const ids = w.pick('message', 6, { in: shard }, (n) => `one-${n}`);
  // Each replies to the next one: written in one window, flushed together, mostly in one batch and statement.
  const rejectedBefore = w.worker.counters.rowsRejected;
  await Promise.all(ids.map((id, i) => say(id, ids[i + 1] ?? null)));
  await w.cache.flush();
  assert.deepEqual(
    await messageRows('one-'),
    ids
      .map((id, i) => ({ id, replyToId: ids[i + 1] ?? null, body: `${id} says hi` }))
      .sort((x, y) => x.id.localeCompare(y.id)),
  );
  await w.assertNoOrderingCost(mark, rejectedBefore);
});

test('a thread updated in one window: bodies edited, a reply moved, a new reply to a new message: exact rows', async () => {
  const mark = w.logs.length;
  await say('upd-root', null);
  await say('upd-a', 'upd-root');
  await say('upd-b', 'upd-a');
  await w.cache.flush();
  await Promise.all([
    w.cache.set('message', 'upd-root', { body: 'edited root' }),
    // Moved from upd-a to upd-root.
    w.cache.set('message', 'upd-b', { replyToId: 'upd-root' }),
    say('upd-c', 'upd-a'),
    say('upd-d', 'upd-c'),
    say('upd-e', 'upd-d'),
  ]);
  await w.cache.flush();
  assert.deepEqual(await messageRows('upd-'), [
    { id: 'upd-a', replyToId: 'upd-root', body: 'upd-a says hi' },
    { id: 'upd-b', replyToId: 'upd-root', body: 'upd-b says hi' },
    { id: 'upd-c', replyToId: 'upd-a', body: 'upd-c says hi' },
    { id: 'upd-d', replyToId: 'upd-c', body: 'upd-d says hi' },
    { id: 'upd-e', replyToId: 'upd-d', body: 'upd-e says hi' },
    { id: 'upd-root', replyToId: null, body: 'edited root' },
  ]);
  await w.assertNoOrderingCost(mark);
});

test("a thread deleted in one window: the root's delete waits for its replies' (held), rows gone", async () => {
  const mark = w.logs.length;
  const rootShard = w.shardOf('message', 'del-root');
  const [a, b, c] = w.pick('message', 3, { notIn: rootShard }, (n) => `del-${n}`) as [string, string, string];
  await say('del-root', null);
  await say(a, 'del-root');
  await say(b, a);
  await say(c, 'del-root');
  await w.cache.flush();
  assert.equal((await messageRows('del-')).length, 4);

  const rejectedBefore = w.worker.counters.rowsRejected;
  const held = await w.writeWhileHeld(
    { kind: 'delete', entity: 'message', ids: [a, b, c] },
    () => Promise.all(['del-root', a, b, c].map((id) => w.cache.delete('message', id))),
    { deferred: 1, waiting: "the root's delete, refused for its replies, waits for their pending deletes" },
  );
  assert.deepEqual(
    (await messageRows('del-')).map((r) => r.id),
    [a, b, c, 'del-root'].sort(),
  );
  held.release();
  await w.cache.flush();
  assert.deepEqual(await messageRows('del-'), []);
  await w.assertNoOrderingCost(mark, rejectedBefore);
});

test('a reply to a message in neither the cache nor the database fails, naming that message; its thread lands', async () => {
  await say('orph-root', null);
  await say('orph-reply', 'orph-root');
  await say('orph-lost', 'orph-ghost');
  assert.ok(await eventually(async () => (await w.failedJobs()).length === 1), 'its job failed');
  assert.deepEqual(await w.failedJobs(), [
    'the database refused message "orph-lost": insert or update on table "messages" violates foreign key constraint "messages_reply_to_id_fkey"; ' +
      'its parent message "orph-ghost" (message.replyTo: column reply_to_id) is neither in the database nor pending in the cache (23503)',
  ]);
  // The fix: the reply answers nothing; a retry of its job lands it.
  await w.cache.set('message', 'orph-lost', { replyToId: null });
  await w.retryFailed();
  await w.cache.flush();
  assert.deepEqual(await messageRows('orph-'), [
    { id: 'orph-lost', replyToId: null, body: 'orph-lost says hi' },
    { id: 'orph-reply', replyToId: 'orph-root', body: 'orph-reply says hi' },
    { id: 'orph-root', replyToId: null, body: 'orph-root says hi' },
  ]);
  assert.deepEqual(await w.failedJobs(), []);
});

test('a message deleted while a reply still points at it (no write of it pending) fails, naming the reply', async () => {
  await say('kept', null);
  await say('kept-reply', 'kept');
  await w.cache.flush();
  await w.cache.delete('message', 'kept');
  assert.ok(await eventually(async () => (await w.failedJobs()).length === 1), 'its job failed');
  assert.deepEqual(await w.failedJobs(), [
    'the database refused message "kept": update or delete on table "messages" violates foreign key constraint "messages_reply_to_id_fkey" on table "messages"; ' +
      'rows still point at it with no delete pending in the cache: message "kept-reply" (through Message.replyTo) (delete or move them first) (23503)',
  ]);
  // The fix: delete the reply, then retry the message's delete.
  await w.cache.delete('message', 'kept-reply');
  await w.cache.flushed('message', 'kept-reply');
  await w.retryFailed();
  await w.cache.flush();
  assert.deepEqual(await messageRows('kept'), []);
  assert.deepEqual(await w.failedJobs(), []);
});

// Not handled yet: a cycle of rows (each message replying to the other) deleted in one window, the two in
// different shards. Each delete is refused for the other row and waits for its pending delete, so neither
// ever lands and no job fails: the keys stay dirty for ever. Runs as a TODO until the flush breaks such a
// wait (for instance by deleting both rows in one statement); it must then pass as it is.
test('two messages replying to each other, in different shards, deleted in one window: both rows gone', {
  todo: "each delete waits for the other's pending delete, for ever",
}, async () => {
  const [a] = w.pick('message', 1, { in: 0 }, (n) => `ring-a${n}`) as [string];
  const [b] = w.pick('message', 1, { in: 1 }, (n) => `ring-b${n}`) as [string];
  await say(a, null);
  await say(b, a);
  await w.cache.flush();
  await w.cache.set('message', a, { replyToId: b });
  await w.cache.flush();
  await w.cache.delete('message', a);
  await w.cache.delete('message', b);
  await w.cache.flush({ timeoutMs: 5000 });
  assert.deepEqual(await messageRows('ring-'), []);
  assert.deepEqual(await w.failedJobs(), []);
});
