// The kinds test schema's Prisma config: `node scripts/prisma-generate.mjs` generates its client into
// ./generated (git-ignored); the tests apply ./migrations themselves (packages/testkit/src/env.ts).
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
});
