import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { boolean, ConfigurationError, counter, type Store, string } from '@write-behind/core';
import { encodeField, type ResolvedEntity, resolveEntities } from '@write-behind/core/internal';
import { videoEvent } from './entities.ts';

export interface ContractWorld {
  store: Store;
  /** A thrown error the store must classify as "database unreachable". */
  unreachableError(): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * The behaviour every {@link Store} must have for write-behind to be safe. Any adapter (Prisma, Drizzle,
 * plain pg) runs this suite against a real database with the demo schema.
 */
export function storeContract(name: string, open: () => Promise<ContractWorld>): void {
  describe(`Store contract: ${name}`, () => {
    let world: ContractWorld;
    let video: ResolvedEntity;
    let settings: ResolvedEntity;
    before(async () => {
      world = await open();
      // Resolved as the cache resolves them: against the store's data model when it has one.
      const resolved = resolveEntities(
        {
          video: { model: 'Video', fields: { likes: counter(), views: counter() } },
          settings: {
            model: 'UserSettings',
            key: 'userId',
            fields: { theme: string(), language: string(), notifications: boolean() },
          },
        },
        world.store.dataModel,
        encodeField,
      );
      video = resolved.get('video') as ResolvedEntity;
      settings = resolved.get('settings') as ResolvedEntity;
    });
    after(() => world.close());

    test('verify accepts the entities the database holds, and names what differs otherwise', async () => {
      await world.store.verify([video, settings]);
      const renamed = { ...video, table: 'NoSuchTable' };
      await assert.rejects(world.store.verify([renamed]), (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(error.message, /entities\.video: table "NoSuchTable" \(model Video\) does not exist/);
        return true;
      });
    });

    test('load returns every id asked for: rows with values and version, others version 0', async () => {
      await world.store.upsert(video, [{ id: 'c1', version: 2, values: { likes: 5, views: 6 } }]);
      const loaded = await world.store.load(video, ['c1', 'missing']);
      assert.deepEqual(loaded.get('c1'), { values: { likes: 5, views: 6 }, version: 2 });
      assert.deepEqual(loaded.get('missing'), { version: 0 });
    });

    test('upsert writes many rows in one call and honours mapped columns', async () => {
      const rows = Array.from({ length: 1000 }, (_, i) => ({
        id: `m${i}`,
        version: 1,
        values: { likes: i, views: 0 },
      }));
      await world.store.upsert(video, rows);
      const loaded = await world.store.load(video, ['m0', 'm999']);
      assert.equal(loaded.get('m999')?.values?.likes, 999);
      await world.store.upsert(settings, [
        { id: 'u', version: 1, values: { theme: 't', language: 'l', notifications: false } },
      ]);
      assert.deepEqual((await world.store.load(settings, ['u'])).get('u'), {
        values: { theme: 't', language: 'l', notifications: false },
        version: 1,
      });
    });

    test('ids and strings of any content travel intact: quotes, backslashes, separators, the word NULL', async () => {
      const awkward = [
        '"',
        '\\',
        'a,b',
        '{x}',
        'NULL',
        'null',
        '',
        ' padded ',
        'é ✓ 𝄞',
        'line\nbreak',
        "it's",
      ];
      const rows = awkward.map((text, i) => ({
        id: `${text}#${i}`,
        version: 1,
        values: { theme: text, language: `${i}`, notifications: i % 2 === 0 },
      }));
      await world.store.upsert(settings, rows);
      const loaded = await world.store.load(
        settings,
        rows.map((r) => r.id),
      );
      for (const row of rows)
        assert.deepEqual(loaded.get(row.id), { values: row.values, version: 1 }, row.id);
      await world.store.delete(settings, [{ id: rows[0]?.id as string, version: 2 }]);
      assert.deepEqual(
        (await world.store.load(settings, [rows[0]?.id as string])).get(rows[0]?.id as string),
        {
          version: 2,
        },
      );
      const extreme = { likes: Number.MAX_SAFE_INTEGER, views: -Number.MAX_SAFE_INTEGER };
      await world.store.upsert(video, [{ id: 'extreme', version: 1, values: extreme }]);
      assert.deepEqual((await world.store.load(video, ['extreme'])).get('extreme')?.values, extreme);
    });

    test('scan pages through every row in key order, each once, without deleted rows', async (t) => {
      const scan = world.store.scan?.bind(world.store);
      if (!scan) {
        t.skip('the store has no scan(), which only ranked counters need');
        return;
      }
      const ids = Array.from({ length: 23 }, (_, i) => `scan${String(i).padStart(2, '0')}`);
      await world.store.upsert(
        settings,
        ids.map((id) => ({ id, version: 1, values: { theme: 'x', language: 'y', notifications: true } })),
      );
      await world.store.delete(settings, [{ id: 'scan05', version: 2 }]);
      const seen: string[] = [];
      for (let afterId: string | undefined; ; ) {
        const page = await scan(settings, afterId, 7);
        assert.ok(page.length <= 7, `a page of ${page.length} rows`);
        seen.push(...page);
        if (page.length < 7) break;
        afterId = page[page.length - 1];
      }
      assert.equal(new Set(seen).size, seen.length, 'no row twice');
      assert.deepEqual(
        seen.filter((id) => id.startsWith('scan')),
        ids.filter((id) => id !== 'scan05'),
      );
    });

    test('append inserts one row per event, skips rows already there, and load reads the highest number', async (t) => {
      const append = world.store.append?.bind(world.store);
      if (!append) {
        t.skip('the store has no append(), which only append entities need');
        return;
      }
      const events = resolveEntities({ videoEvent }, world.store.dataModel, encodeField).get(
        'videoEvent',
      ) as ResolvedEntity;
      const at = new Date('2026-01-01T00:00:00.000Z');
      const row = (id: string, sequence: number) => ({
        id,
        sequence,
        values: { type: `t${sequence}`, context: sequence % 2 ? { sequence } : null, createdAt: at },
      });
      await append(events, [row('a', 1), row('a', 2), row('b', 1)]);
      // A replay of rows already there, with a new one: no conflict error, and the numbering goes on.
      await append(events, [
        { ...row('a', 2), values: { ...row('a', 2).values, type: 'changed' } },
        row('a', 3),
      ]);
      const loaded = await world.store.load(events, ['a', 'b', 'none']);
      assert.deepEqual(loaded.get('a'), { version: 3 });
      assert.deepEqual(loaded.get('b'), { version: 1 });
      assert.deepEqual(loaded.get('none'), { version: 0 });
      const many = Array.from({ length: 2000 }, (_, i) => row('m', i + 1));
      await append(events, many);
      assert.deepEqual((await world.store.load(events, ['m'])).get('m'), { version: 2000 });
    });

    test('upsert ignores versions not newer than the row', async () => {
      await world.store.upsert(video, [{ id: 'o', version: 5, values: { likes: 5, views: 0 } }]);
      await world.store.upsert(video, [{ id: 'o', version: 5, values: { likes: 50, views: 0 } }]);
      await world.store.upsert(video, [{ id: 'o', version: 4, values: { likes: 40, views: 0 } }]);
      assert.equal((await world.store.load(video, ['o'])).get('o')?.values?.likes, 5);
    });

    test('delete removes older rows, remembers its version, and blocks older puts', async () => {
      await world.store.upsert(video, [{ id: 'd', version: 1, values: { likes: 1, views: 0 } }]);
      await world.store.delete(video, [{ id: 'd', version: 2 }]);
      await world.store.upsert(video, [{ id: 'd', version: 1, values: { likes: 1, views: 0 } }]);
      assert.deepEqual((await world.store.load(video, ['d'])).get('d'), { version: 2 });
      await world.store.upsert(video, [{ id: 'd', version: 3, values: { likes: 3, views: 0 } }]);
      assert.deepEqual((await world.store.load(video, ['d'])).get('d'), {
        values: { likes: 3, views: 0 },
        version: 3,
      });
    });

    test('purgeTombstones forgets old deletes only', async () => {
      await world.store.delete(video, [{ id: 'p', version: 7 }]);
      assert.equal(await world.store.purgeTombstones(60_000), 0);
      await new Promise((r) => setTimeout(r, 20));
      assert.ok((await world.store.purgeTombstones(1)) >= 1);
      assert.deepEqual((await world.store.load(video, ['p'])).get('p'), { version: 0 });
    });

    test('a constraint violation is a row error, an unreachable database is not', async () => {
      const rowError = await world.store
        .upsert(settings, [
          {
            id: 'bad',
            version: 1,
            values: { theme: null as unknown as string, language: 'x', notifications: true },
          },
        ])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(rowError, 'a NULL in a NOT NULL column is refused');
      assert.equal(world.store.isUnavailable(rowError), false);
      assert.equal(world.store.isUnavailable(await world.unreachableError()), true);
    });
  });
}
