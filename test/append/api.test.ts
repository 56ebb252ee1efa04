// Guarantee 17 behind the demo api: the README's event requests, replayed against `POST /videos/:id/events`,
// answer what the README shows, and a flush worker turns them into the rows its psql output shows.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { Logger } from '@write-behind/core';
import { type DemoEntities, demoEntities } from '@write-behind/demo';
import { createTestCache, type TestCache } from '@write-behind/testkit';
import request from 'supertest';
import { createApp } from '../../apps/api/src/app.ts';

const silent: Logger = { info() {}, warn() {}, error() {} };
let world: TestCache<DemoEntities>;
before(async () => {
  world = await createTestCache({ entities: demoEntities, flush: { windowMs: 50 }, logger: silent });
});
after(() => world.close());

interface Exchange {
  path: string;
  body: unknown;
  answer: unknown;
}

/** The README's `POST .../events` curl lines (continuations joined) with the line each answers. */
function eventRequests(readme: string): Exchange[] {
  const lines = readme.replace(/\\\n\s+/g, '').split('\n');
  const out: Exchange[] = [];
  lines.forEach((line, i) => {
    const match = /^\$ curl -s -X POST localhost:3000(\/videos\/[^/ ]+\/events) .* -d '(.*)'$/.exec(line);
    if (match) {
      out.push({
        path: match[1] as string,
        body: JSON.parse(match[2] as string),
        answer: JSON.parse(lines[i + 1] as string),
      });
    }
  });
  return out;
}

/** The rows of the README's `SELECT ... FROM video_event` psql output. */
function psqlRows(readme: string): string[][] {
  const start = readme.indexOf('FROM video_event ORDER BY seq');
  const table = readme.slice(start, readme.indexOf('```', start)).split('\n').slice(3);
  return table.filter((line) => line.includes('|')).map((line) => line.split('|').map((cell) => cell.trim()));
}

/** A video's key in the README's sequence numbers and in those the api answered: `video seq`. */
const numbered = (videoId: unknown, seq: unknown) => `${videoId} ${seq}`;

test("the README's event requests answer as shown, and land as the rows shown", async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const exchanges = eventRequests(readme);
  assert.ok(exchanges.length >= 2, 'the README shows event requests');
  const app = createApp({ cache: world.cache, logger: silent });
  // A video's numbering starts from the shard's clock, so the README's numbers are an example: each answer
  // must match the README's but for `seq`, and a video's events get consecutive numbers in request order.
  // The number answered for each README number, per video: the psql rows below are compared through it.
  const answered = new Map<string, number>();
  const lastOf = new Map<string, number>();
  for (const { path, body, answer } of exchanges) {
    const response = await request(app)
      .post(path)
      .send(body as object)
      .expect(202);
    const { seq, ...rest } = response.body as { id: string; seq: unknown };
    const { seq: shown, ...shownRest } = answer as { id: string; seq: unknown };
    assert.deepEqual(rest, shownRest, `${path}: the answer matches the README's but for seq`);
    assert.ok(typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0, `${path}: seq ${seq}`);
    const last = lastOf.get(rest.id);
    if (last !== undefined) assert.equal(seq, last + 1, `${path}: the video's next number`);
    lastOf.set(rest.id, seq);
    const readmeKey = numbered(shownRest.id, shown);
    assert.ok(!answered.has(readmeKey), `the README answers seq ${shown} twice for ${shownRest.id}`);
    answered.set(readmeKey, seq);
  }
  const worker = world.cache.createWorker({ sweep: false });
  await worker.ready;
  await world.cache.flushed('videoEvent', 'v1');
  await worker.close();
  const { rows } = await world.db.pool.query(
    'SELECT video_id, seq::text, type, context::text FROM video_event ORDER BY video_event.seq',
  );
  // The README's rows, each with the number the api answered for the README's number in its seq column.
  const shownRows = psqlRows(readme).map(([videoId, seq, ...rest]) => {
    const actual = answered.get(numbered(videoId, seq));
    assert.ok(actual !== undefined, `the README's row ${videoId} ${seq} answers no request it shows`);
    return [videoId, String(actual), ...rest];
  });
  assert.deepEqual(
    rows.map((r) => [r.video_id, r.seq, r.type, r.context ?? '']),
    shownRows,
  );
});

test('bad events are a 400 and write nothing', async () => {
  const app = createApp({ cache: world.cache, logger: silent });
  const refused = [
    {},
    { type: 'x'.repeat(33) },
    { type: 'click', extra: 1 },
    { type: 'click', createdAt: '2020-01-01' },
    { type: 7 },
  ];
  for (const body of refused) {
    const answer = await request(app).post('/videos/bad/events').send(body).expect(400);
    assert.equal(answer.body.error.code, 'VALIDATION', JSON.stringify(answer.body));
  }
  await request(app).post('/videos/bad/events').send('[1]').type('json').expect(400);
  const { rows } = await world.db.pool.query(
    "SELECT count(*)::int AS n FROM video_event WHERE video_id = 'bad'",
  );
  assert.equal(rows[0].n, 0);
  assert.equal((await world.cache.stats()).dirtyKeys, 0);
});
