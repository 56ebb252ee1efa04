// The Prisma adapter against the store contract.
import { DEFAULT_OPTIONS } from '@write-behind/core';
import { PrismaStore } from '@write-behind/core/internal';
import { createPrismaClient } from '@write-behind/db';
import { createTestDatabase, storeContract } from '@write-behind/testkit';

storeContract('PrismaStore', async () => {
  const db = await createTestDatabase();
  return {
    store: new PrismaStore(db.prisma, { tombstoneTable: DEFAULT_OPTIONS.tombstoneTable }),
    async unreachableError() {
      // Nothing listens on port 9 (discard) here: the connection is refused.
      const dead = createPrismaClient('postgresql://postgres@127.0.0.1:9/postgres');
      const store = new PrismaStore(dead, { tombstoneTable: DEFAULT_OPTIONS.tombstoneTable });
      const error = await store.purgeTombstones(1).then(
        () => undefined,
        (e: unknown) => e,
      );
      await dead.$disconnect();
      return error;
    },
    close: () => db.drop(),
  };
});
