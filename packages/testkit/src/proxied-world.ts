import type { EntityDefinitions, Store } from '@write-behind/core';
import { PrismaStore } from '@write-behind/core/internal';
import { createPrismaClient, type PrismaClient } from '@write-behind/db';
import { DATABASE_URL, schemaUrl } from './env.ts';
import { forwardingStore } from './forwarding-store.ts';
import { createWorld, type World, type WorldOptions } from './harness.ts';
import { type PgProxy, startProxyTo } from './pg-proxy.ts';

/** A world whose store reaches PostgreSQL through a proxy the test can cut, and counts the store's loads. */
export interface ProxiedWorld<E extends EntityDefinitions> extends World<E> {
  proxy: PgProxy;
  /** Keys the store loaded from the database (`Store.load`), all entities together, since the world began. */
  loads(): number;
}

/**
 * A {@link createWorld} whose flushes and loads go through a TCP proxy that the test cuts to stage a database
 * outage. The schema is read and checked through the direct connection; only the store's traffic goes
 * through the proxy. The world makes the schema, so the proxied Prisma client is built after it; until then
 * the store delegates to nothing.
 */
export async function createProxiedWorld<const E extends EntityDefinitions>(
  entities: E,
  options: Omit<WorldOptions<E>, 'wrapStore'> = {},
): Promise<ProxiedWorld<E>> {
  const proxy = await startProxyTo(DATABASE_URL);
  let inner: Store | undefined;
  let loaded = 0;
  const s = (): Store => {
    if (!inner) throw new Error('the proxied store is not built yet');
    return inner;
  };
  const world = await createWorld(entities, {
    ...options,
    wrapStore: (base) =>
      forwardingStore(s, {
        dataModel: base.dataModel,
        verify: (defs) => base.verify(defs),
        load(entity, ids) {
          loaded += ids.length;
          return s().load(entity, ids);
        },
      }),
  });
  const prisma: PrismaClient = createPrismaClient(schemaUrl(world.db.schema, proxy.url(DATABASE_URL)), {
    max: 4,
  });
  inner = new PrismaStore(prisma, { tombstoneTable: 'write_behind_tombstone' });
  return {
    ...world,
    proxy,
    loads: () => loaded,
    async close() {
      proxy.restore();
      await world.close();
      await prisma.$disconnect();
      await proxy.close();
    },
  };
}
