import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyMigrations, MigrationError } from '@write-behind/testkit/migrations';
import pg from 'pg';

const connectionString = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const migrationsDir = fileURLToPath(new URL('../prisma/migrations', import.meta.url));
// A schema of its own, so this file can run beside other test files on the same database.
const schema = `test_${randomUUID().replaceAll('-', '')}`;

const folders = readdirSync(migrationsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const sha256 = (name: string) =>
  createHash('sha256')
    .update(readFileSync(`${migrationsDir}/${name}/migration.sql`))
    .digest('hex');

const db = new pg.Client({ connectionString });
before(() => db.connect());
after(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${db.escapeIdentifier(schema)} CASCADE`);
  await db.end();
});

test('applies every migration to a fresh schema and records it as Prisma Migrate does', async () => {
  const { applied } = await applyMigrations({ connectionString, schema, migrationsDir });
  assert.deepEqual(applied, folders);

  const tables = await db.query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
    [schema],
  );
  const names = tables.rows.map((row) => row.table_name);
  for (const table of ['_prisma_migrations', 'Video', 'user_settings', 'write_behind_tombstone']) {
    assert.ok(names.includes(table), `table ${table} missing from ${names.join(', ')}`);
  }

  const rows = await db.query<{
    migration_name: string;
    checksum: string;
    finished_at: Date | null;
    applied_steps_count: number;
  }>(
    `SELECT migration_name, checksum, finished_at, applied_steps_count
       FROM ${db.escapeIdentifier(schema)}._prisma_migrations ORDER BY migration_name`,
  );
  assert.deepEqual(
    rows.rows.map((row) => row.migration_name),
    folders,
  );
  for (const row of rows.rows) {
    assert.equal(row.checksum, sha256(row.migration_name));
    assert.ok(row.finished_at instanceof Date, `${row.migration_name} has no finished_at`);
    assert.equal(row.applied_steps_count, 1);
  }
});

test('applying again is a no-op', async () => {
  const { applied } = await applyMigrations({ connectionString, schema, migrationsDir });
  assert.deepEqual(applied, []);
  const count = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${db.escapeIdentifier(schema)}._prisma_migrations`,
  );
  assert.equal(count.rows[0]?.n, folders.length);
});

test('refuses to go on when an applied migration no longer matches its recorded checksum', async () => {
  const tampered = folders[0];
  assert.ok(tampered, 'prisma/migrations holds no migration folders');
  await db.query(
    `UPDATE ${db.escapeIdentifier(schema)}._prisma_migrations SET checksum = $1 WHERE migration_name = $2`,
    ['0'.repeat(64), tampered],
  );
  await assert.rejects(applyMigrations({ connectionString, schema, migrationsDir }), (error) => {
    assert.ok(error instanceof MigrationError);
    assert.equal(error.code, 'CHECKSUM_MISMATCH');
    assert.match(error.message, new RegExp(`${tampered}.*modified after it was applied`));
    return true;
  });
});
