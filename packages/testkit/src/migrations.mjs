// An offline stand-in for `prisma migrate deploy`. The Prisma CLI cannot fetch its schema engine
// here, so this applies prisma/migrations itself, keeping `_prisma_migrations` exactly as Prisma
// Migrate keeps it: a later real `prisma migrate deploy` against the same database sees every
// migration as applied and only runs newer ones.
//
// Its one home (`@write-behind/testkit/migrations`): `npm run db:migrate` (scripts/migrate.mjs), `npm start`
// (scripts/start.mjs), every test database (`createTestDatabase`) and test/migrations.test.ts apply migrations
// through it. Plain JavaScript with JSDoc types, because the root scripts run under bare `node`, without tsx.
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

/** Prisma Migrate's own advisory lock key: sharing it makes this script and Prisma exclude each other. */
const PRISMA_MIGRATE_LOCK_KEY = 72707369;
/** Prisma gives up on the lock after 10 s too, rather than hanging behind a stuck deploy. */
const LOCK_TIMEOUT_MS = 10_000;

// Copied from prisma-engines (sql-schema-connector, postgres flavour) so that the table is
// indistinguishable from one Prisma created. IF NOT EXISTS because Prisma may have created it.
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;

/**
 * @typedef {'LOCK_TIMEOUT' | 'PROVIDER_MISMATCH' | 'MISSING_SCRIPT' | 'FAILED_MIGRATION' | 'CHECKSUM_MISMATCH' | 'APPLY_FAILED'} MigrationErrorCode
 */

/** Why the migrations could not be applied; `code` is stable, the message says what to do. */
export class MigrationError extends Error {
  /**
   * @param {MigrationErrorCode} code
   * @param {string} message
   * @param {{ cause?: unknown }} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = 'MigrationError';
    /** @type {MigrationErrorCode} */
    this.code = code;
  }
}

/** Prisma's checksum: sha256 of the script, as 64 lowercase hex digits. @param {string} script */
export function migrationChecksum(script) {
  return createHash('sha256').update(script, 'utf8').digest('hex');
}

/**
 * Prisma also accepts the script with its line endings flipped, because git may check a file out
 * with CRLF on one machine and LF on another; a checkout must not look like an edited migration.
 * @param {string} script
 * @param {string} checksum
 */
function matchesChecksum(script, checksum) {
  const variants = [script, script.replaceAll('\r\n', '\n'), script.replaceAll('\n', '\r\n')];
  return variants.some((variant) => migrationChecksum(variant) === checksum);
}

/**
 * Splits Prisma's `?schema=` URL parameter off: Prisma reads it as the target schema, `pg` does not
 * know it.
 * @param {string} connectionString
 */
function splitSchemaParam(connectionString) {
  const url = new URL(connectionString);
  const schema = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  return { connectionString: url.toString(), schema };
}

/** @param {string} migrationsDir */
async function readLocalMigrations(migrationsDir) {
  const lockFile = await readFile(join(migrationsDir, 'migration_lock.toml'), 'utf8').catch(() => '');
  const provider = /^\s*provider\s*=\s*"([^"]*)"/m.exec(lockFile)?.[1];
  if (provider !== undefined && provider !== 'postgresql') {
    throw new MigrationError(
      'PROVIDER_MISMATCH',
      `${migrationsDir}/migration_lock.toml says provider "${provider}", but this applier only speaks postgresql`,
    );
  }
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  // Byte order, not locale order, like Prisma: the timestamp prefixes must sort the same everywhere.
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Promise.all(
    names.map(async (name) => {
      const file = join(migrationsDir, name, 'migration.sql');
      const script = await readFile(file, 'utf8').catch((error) => {
        throw new MigrationError('MISSING_SCRIPT', `cannot read ${file}: every migration folder needs one`, {
          cause: error,
        });
      });
      return { name, script };
    }),
  );
}

/**
 * @typedef {object} AppliedRow
 * @property {string} migration_name
 * @property {string} checksum
 * @property {Date | null} finished_at
 * @property {Date | null} rolled_back_at
 * @property {Date} started_at
 * @property {string | null} logs
 */

/**
 * Refuses the same states `prisma migrate deploy` and `prisma migrate status` refuse: a migration
 * that started but never finished, and an applied migration whose file changed since.
 * @param {AppliedRow[]} rows
 * @param {{ name: string, script: string }[]} local
 * @param {string} migrationsDir
 */
function checkHistory(rows, local, migrationsDir) {
  const failed = rows.filter((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed.length > 0) {
    const details = failed
      .map(
        (row) =>
          `\`${row.migration_name}\` started at ${row.started_at.toISOString()}${row.logs ? `: ${row.logs}` : ''}`,
      )
      .join('\n');
    throw new MigrationError(
      'FAILED_MIGRATION',
      `found failed migrations in _prisma_migrations:\n${details}\nResolve them with \`prisma migrate resolve\` before applying new ones.`,
    );
  }
  const scripts = new Map(local.map(({ name, script }) => [name, script]));
  for (const row of rows) {
    const script = scripts.get(row.migration_name);
    if (row.rolled_back_at === null && script !== undefined && !matchesChecksum(script, row.checksum)) {
      throw new MigrationError(
        'CHECKSUM_MISMATCH',
        `the migration \`${row.migration_name}\` was modified after it was applied: ` +
          `${migrationsDir}/${row.migration_name}/migration.sql has checksum ${migrationChecksum(script)}, ` +
          `_prisma_migrations recorded ${row.checksum}. Restore the file and put the change in a new migration.`,
      );
    }
  }
}

/**
 * Applies every migration folder (in name order) not yet recorded in `_prisma_migrations`, each in
 * one transaction together with the row that records it, under Prisma Migrate's advisory lock.
 *
 * @param {object} options
 * @param {string} options.connectionString PostgreSQL URL; Prisma's `?schema=` parameter is honoured.
 * @param {string} [options.schema] Schema to migrate, created if missing. Defaults to the URL's
 *   `?schema=`, else `public` (as Prisma does).
 * @param {string} options.migrationsDir Folder holding `<timestamp>_<name>/migration.sql` folders.
 * @param {(message: string) => void} [options.log] Progress lines; silent by default.
 * @returns {Promise<{ applied: string[] }>} The names of the migrations this call applied.
 * @throws {MigrationError} On a lock timeout, a failed or edited migration, or a script that fails.
 * @example
 * await applyMigrations({ connectionString: process.env.DATABASE_URL, schema: `test_${id}`,
 *   migrationsDir: 'prisma/migrations' });
 */
export async function applyMigrations({ connectionString, schema, migrationsDir, log = () => {} }) {
  const target = splitSchemaParam(connectionString);
  const schemaName = schema ?? target.schema ?? 'public';
  const local = await readLocalMigrations(migrationsDir);
  const client = new pg.Client({ connectionString: target.connectionString });
  await client.connect();
  try {
    await client.query(`SET lock_timeout = ${LOCK_TIMEOUT_MS}`);
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]).catch((error) => {
      if (error?.code !== '55P03') throw error;
      throw new MigrationError(
        'LOCK_TIMEOUT',
        `timed out after ${LOCK_TIMEOUT_MS} ms waiting for the migrate advisory lock ` +
          `(pg_advisory_lock(${PRISMA_MIGRATE_LOCK_KEY})): another migration run holds it`,
        { cause: error },
      );
    });
    // Only the lock wait is bounded; a migration may legitimately wait on the application's locks.
    await client.query('RESET lock_timeout');
    try {
      return await applyLocked(client, schemaName, local, migrationsDir, log);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

/**
 * @param {pg.Client} client
 * @param {string} schemaName
 * @param {{ name: string, script: string }[]} local
 * @param {string} migrationsDir
 * @param {(message: string) => void} log
 */
async function applyLocked(client, schemaName, local, migrationsDir, log) {
  const schemaIdent = client.escapeIdentifier(schemaName);
  // Checked first because CREATE SCHEMA IF NOT EXISTS still demands CREATE rights on the database,
  // which a deploy user that only owns its schema may lack.
  const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schemaName]);
  if (exists.rowCount === 0) {
    await client.query(`CREATE SCHEMA ${schemaIdent}`);
    log(`created schema "${schemaName}"`);
  }
  // Only the target schema, as Prisma does, so an unqualified name cannot resolve to another schema.
  await client.query(`SET search_path TO ${schemaIdent}`);
  await client.query(CREATE_MIGRATIONS_TABLE);

  /** @type {pg.QueryResult<AppliedRow>} */
  const recorded = await client.query(
    'SELECT migration_name, checksum, finished_at, rolled_back_at, started_at, logs FROM _prisma_migrations ORDER BY started_at',
  );
  checkHistory(recorded.rows, local, migrationsDir);
  // Rolled-back rows do not count as applied: Prisma re-applies such a migration, and so do we.
  const done = new Set(
    recorded.rows.filter((row) => row.rolled_back_at === null).map((row) => row.migration_name),
  );

  /** @type {string[]} */
  const applied = [];
  for (const { name, script } of local) {
    if (done.has(name)) continue;
    log(`applying ${name}`);
    // Unlike Prisma, which records a failed row that then needs `migrate resolve`, a failure here rolls
    // back the script and its row together and leaves the database as it was.
    await client.query('BEGIN');
    try {
      await client.query(script);
      await client.query(
        `INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), clock_timestamp(), 1)`,
        [randomUUID(), migrationChecksum(script), name],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      const reason = error instanceof Error ? error.message : String(error);
      throw new MigrationError(
        'APPLY_FAILED',
        `migration \`${name}\` failed and was rolled back: ${reason}`,
        {
          cause: error,
        },
      );
    }
    applied.push(name);
  }
  log(
    applied.length === 0 ? `schema "${schemaName}" is up to date` : `applied ${applied.length} migration(s)`,
  );
  return { applied };
}
