import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.ts';

export { PrismaClient } from './generated/client.ts';

/**
 * A Prisma Client for the demo schema over `@prisma/adapter-pg` (no native query engine). A factory, not a
 * global: tests make one per schema, apps one per process.
 */
export function createPrismaClient(connectionString: string, options: { max?: number } = {}): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString, max: options.max ?? 10 }) });
}
