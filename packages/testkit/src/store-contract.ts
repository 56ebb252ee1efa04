import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  boolean,
  ConfigurationError,
  counter,
  type ResolvedEntity,
  type Store,
  string,
} from '@write-behind/core';
import { encodeField, resolveEntities } from '@write-behind/core/internal';

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
