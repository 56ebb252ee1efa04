// The Prisma adapter against the store contract.
import { PrismaStore } from '@write-behind/core';
import { createPrismaClient } from '@write-behind/db';
import { createTestDatabase } from './support/env.ts';
import { storeContract } from './support/store-contract.ts';

storeContract('PrismaStore', async () => {
  const db = await createTestDatabase();
  return {
    store: new PrismaStore(db.prisma),
    async unreachableError() {
      // Nothing listens on port 9 (discard) here: the connection is refused.
      const dead = createPrismaClient('postgresql://postgres@127.0.0.1:9/postgres');
      const store = new PrismaStore(dead);
      const error = await store
        .load({ name: 'video', definition: { model: 'Video', fields: {} } }, ['x'])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      await dead.$disconnect();
      return error;
    },
    close: () => db.drop(),
  };
});
