// Cycles (issue 24): the kinds schema's `Author` and `Book` are each other's parents (an author's featured
// book, a book's author). createWriteBehind refuses them with a ConfigurationError that names the cycle and the
// way out, before it opens any connection; with that way out (`parents: { featuredBook: false }`) it accepts
// them, `ready` resolves, and their rows flush exact over four shards.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigurationError, createWriteBehind, type FlushWorker, string } from '@write-behind/core';
import { createWorld, DATABASE_URL, REDIS_URL, testPrefix, type World } from '@write-behind/testkit';
import { KINDS_SCHEMA } from '../kinds/harness.ts';
import { createKindsPrisma, type PrismaClient } from '../schemas/kinds/index.ts';

const author = { model: 'Author', fields: { name: string(), featuredBookId: string({ nullable: true }) } };
const book = { model: 'Book', fields: { title: string(), authorId: string() } };

const cycleMessage = (names: string, path: string, wayOut: string) =>
  `entities ${names} are each other's parents (${path}): ` +
  'new rows of each, written in the same flush window, would each wait for the other to reach the database first, for ever. ' +
  `Take one relation out of the flush's ordering, e.g. \`${wayOut}\` ` +
  '(its rows are then written without waiting for their parent, so that foreign key must accept them: ' +
  'nullable, and set once both rows are stored), or keep one of these tables out of the cache';

test("createWriteBehind refuses two entities that are each other's parents, naming the cycle and the way out", async () => {
  const prisma = createKindsPrisma(DATABASE_URL);
  try {
    assert.throws(
      () => createWriteBehind({ redis: REDIS_URL, prisma, prefix: testPrefix(), entities: { author, book } }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigurationError, `a ConfigurationError, got ${error}`);
        assert.equal(error.code, 'CONFIGURATION');
        assert.equal(
          error.message,
          cycleMessage(
            'author, book',
            'author.featuredBook → book, book.author → author',
            'entities.author.parents: { featuredBook: false }',
          ),
        );
        return true;
      },
    );
    // Named from the other side when the entities come in the other order.
    assert.throws(
      () => createWriteBehind({ redis: REDIS_URL, prisma, prefix: testPrefix(), entities: { book, author } }),
      {
        name: 'ConfigurationError',
        message: cycleMessage(
          'book, author',
          'book.author → author, author.featuredBook → book',
          'entities.book.parents: { author: false }',
        ),
      },
    );
  } finally {
    await prisma.$disconnect();
  }
});

describe('with one side out of the ordering (parents: { featuredBook: false })', () => {
  const entities = { author: { ...author, parents: { featuredBook: false } }, book } as const;
  let w: World<typeof entities, PrismaClient>;
  let worker: FlushWorker;
  before(async () => {
    w = await createWorld(entities, {
      schema: KINDS_SCHEMA,
      shards: 4,
      flush: { windowMs: 200, attempts: 3, backoffMs: 50 },
    });
    worker = await w.startWorker();
  });
  after(() => w.close());

  async function rows() {
    const authors = await w.db.pool.query(
      'SELECT id, name, featured_book_id AS "featuredBookId" FROM authors ORDER BY id',
    );
    const books = await w.db.pool.query('SELECT id, title, author_id AS "authorId" FROM books ORDER BY id');
    return { authors: authors.rows, books: books.rows };
  }
  const failedJobs = async () =>
    (await Promise.all(w.cache.queues.map((q) => q.getFailed()))).flat().map((j) => j.failedReason);
  const foreignKeyLogs = () =>
    w.logs.filter((l) => l.level !== 'info' && JSON.stringify(l.obj).includes('23503'));

  test('createWriteBehind accepts them and ready resolves', async () => {
    await w.cache.ready;
    assert.equal(w.resolvedEntity('author').flushOrder, 0);
    assert.equal(w.resolvedEntity('book').flushOrder, 1, 'books still wait for their authors');
  });

  test('authors and their books written in one window, featured books set once both exist, then all deleted: exact rows', async () => {
    const rejectedBefore = worker.counters.rowsRejected;
    await Promise.all([
      ...['ann', 'bob', 'cy'].map((id) =>
        w.cache.set('author', id, { name: id.toUpperCase(), featuredBookId: null }),
      ),
      ...['ann', 'bob', 'cy'].flatMap((id) =>
        [1, 2].map((n) => w.cache.set('book', `${id}-${n}`, { title: `${id} ${n}`, authorId: id })),
      ),
    ]);
    await w.cache.flush();
    await Promise.all(['ann', 'bob'].map((id) => w.cache.set('author', id, { featuredBookId: `${id}-2` })));
    await w.cache.flush();
    assert.deepEqual(await rows(), {
      authors: [
        { id: 'ann', name: 'ANN', featuredBookId: 'ann-2' },
        { id: 'bob', name: 'BOB', featuredBookId: 'bob-2' },
        { id: 'cy', name: 'CY', featuredBookId: null },
      ],
      books: ['ann', 'bob', 'cy'].flatMap((id) =>
        [1, 2].map((n) => ({ id: `${id}-${n}`, title: `${id} ${n}`, authorId: id })),
      ),
    });

    // Books' deletes go before their authors' (an author's delete refused for its books waits for theirs).
    await Promise.all([
      ...['ann', 'bob', 'cy'].map((id) => w.cache.delete('author', id)),
      ...['ann', 'bob', 'cy'].flatMap((id) => [1, 2].map((n) => w.cache.delete('book', `${id}-${n}`))),
    ]);
    await w.cache.flush();
    assert.deepEqual(await rows(), { authors: [], books: [] });
    assert.equal(worker.counters.rowsRejected, rejectedBefore, 'no row was refused');
    assert.deepEqual(await failedJobs(), []);
    assert.deepEqual(foreignKeyLogs(), []);
  });
});
