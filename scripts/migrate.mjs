// Applies prisma/migrations offline (`npm run db:migrate`), bookkept so that a later real
// `prisma migrate deploy` agrees. Usage: node scripts/migrate.mjs [--schema NAME]

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { applyMigrations, MigrationError } from '@write-behind/testkit/migrations';
import { redactUrl } from '@write-behind/testkit/redact-url';

const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

const { values } = parseArgs({ options: { schema: { type: 'string' } } });
const connectionString = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;

try {
  await applyMigrations({
    connectionString,
    schema: values.schema,
    migrationsDir: fileURLToPath(new URL('../prisma/migrations', import.meta.url)),
    log: (message) => console.log(message),
  });
} catch (error) {
  if (error instanceof MigrationError) {
    console.error(`db:migrate: ${error.message}`);
  } else {
    // Anything else is almost always the connection; name the variable that points at it.
    // Connection failures to several addresses arrive as an AggregateError with an empty message.
    const reason = error instanceof Error && error.message ? error.message : error;
    console.error(
      `db:migrate: cannot migrate ${redactUrl(connectionString)} (set DATABASE_URL to change it):`,
      reason,
    );
  }
  process.exit(1);
}
