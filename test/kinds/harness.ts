// One isolated world per test file on the kinds schema (test/schemas/kinds): a fresh PostgreSQL schema with
// its migrations, a key prefix of its own, a cache over its four entities (Int, UUID, BigInt and composite
// keys), and flush workers on demand. The kinds twin of packages/testkit/src/harness.ts.
import assert from 'node:assert/strict';
import { DEFAULT_OPTIONS, type IdOf } from '@write-behind/core';
import type { ResolvedEntity } from '@write-behind/core/internal';
import { encodeId } from '@write-behind/core/internal';
import {
  createTestDatabase,
  createWorld,
  scanKeys,
  type TestDatabase,
  type World,
  type WorldOptions,
} from '@write-behind/testkit';
import {
  createKindsPrisma,
  KINDS_MIGRATIONS_DIR,
  type KindsEntities,
  kindsEntities,
  type PrismaClient,
} from '../schemas/kinds/index.ts';

export { type KindsEntities, kindsEntities } from '../schemas/kinds/index.ts';

export type EntityName = keyof KindsEntities & string;
export type KindsDatabase = TestDatabase<PrismaClient>;

export interface KindsHarness extends World<KindsEntities, PrismaClient> {
  /** The entities as the store sees them, for calling the store directly. */
  resolved: Record<EntityName, ResolvedEntity>;
  /** An id's canonical text: what Redis keys, job ids and the tombstone table use. */
  canonical<N extends EntityName>(entity: N, id: IdOf<KindsEntities[N]>): string;
  /** The Redis data key of an id. */
  key<N extends EntityName>(entity: N, id: IdOf<KindsEntities[N]>): string;
  /** Every data key under the harness's prefix. */
  dataKeys(): Promise<string[]>;
  /**
   * The version Redis gave the key's last write: what its flush stores. Versions come from the shard's clock
   * (microseconds, about 1.8e15), so tests compare them with this or with each other, never count them.
   */
  versionOf<N extends EntityName>(entity: N, id: IdOf<KindsEntities[N]>): Promise<number>;
}

/** A version read as text (a BIGINT beyond `::int`, or Redis's `_v`), as the exact number it is below 2^53. */
export function exactVersion(text: string | null | undefined): number {
  const version = Number(text);
  assert.ok(typeof text === 'string' && Number.isSafeInteger(version), `version ${text}`);
  return version;
}

/** A fresh schema with the kinds migrations applied, and a client of the kinds schema on it. */
export function createKindsDatabase(): Promise<KindsDatabase> {
  return createTestDatabase(KINDS_SCHEMA);
}

export const KINDS_SCHEMA = { migrationsDir: KINDS_MIGRATIONS_DIR, createPrisma: createKindsPrisma };

/** The {@link World} of the kinds schema, with typed ids. */
export async function createKindsHarness(options: WorldOptions<KindsEntities> = {}): Promise<KindsHarness> {
  const world = await createWorld(kindsEntities, { ...options, schema: KINDS_SCHEMA });
  const canonical: KindsHarness['canonical'] = (name, id) =>
    encodeId(world.resolvedEntity(name), id, DEFAULT_OPTIONS.limits.maxIdBytes);
  return {
    ...world,
    resolved: {
      player: world.resolvedEntity('player'),
      device: world.resolvedEntity('device'),
      ledger: world.resolvedEntity('ledger'),
      membership: world.resolvedEntity('membership'),
    },
    canonical,
    key: (name, id) => world.dataKey(name, canonical(name, id)),
    versionOf: async (name, id) =>
      exactVersion(await world.redis.hget(world.dataKey(name, canonical(name, id)), '_v')),
    dataKeys: () => scanKeys(world.redis, world.dataKey('*', '*')),
  };
}

/** A `players` row as PostgreSQL holds it: exact text for decimals, big integers and times. */
export interface PlayerRow {
  id: number;
  score: number;
  xp: string;
  name: string;
  level: number | null;
  ratio: number;
  accuracy: number | null;
  balance: string;
  bonus: string | null;
  active: boolean;
  /** `timestamp(3)` as UTC ISO text (Prisma stores UTC wall time). */
  lastSeen: string | null;
  /** `date` as YYYY-MM-DD. */
  birthday: string | null;
  prefs: unknown;
  /** The enum's database label. */
  tier: string;
  createdAt: string;
  updatedAt: string;
  notes: string | null;
  version: number;
}

const ISO_MS = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;

/** Reads a player row straight from PostgreSQL, independently of the library's own SQL. */
export async function playerRow(db: KindsDatabase, id: number): Promise<PlayerRow | undefined> {
  const { rows } = await db.pool.query<Omit<PlayerRow, 'version'> & { version: string }>(
    `SELECT id, score, xp::text, name, level, ratio, accuracy, balance::text, bonus::text, active,
       to_char(last_seen, ${ISO_MS}) AS "lastSeen", to_char(birthday, 'YYYY-MM-DD') AS birthday, prefs,
       tier::text, to_char(created_at, ${ISO_MS}) AS "createdAt", to_char(updated_at, ${ISO_MS}) AS "updatedAt",
       notes, version::text
     FROM players WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  return row && { ...row, version: exactVersion(row.version) };
}

/** The version a delete of `canonical` left in the tombstone table, if any. */
export async function tombstoneVersion(
  db: KindsDatabase,
  entity: EntityName,
  canonical: string,
): Promise<number | undefined> {
  const { rows } = await db.pool.query<{ version: string }>(
    'SELECT version::text FROM write_behind_tombstone WHERE entity = $1 AND key = $2',
    [entity, canonical],
  );
  return rows[0] && exactVersion(rows[0].version);
}

/**
 * Counts real row writes of `table` in `row_writes`: a trigger logs each insert and update with the row's key
 * (`keyExpression`, in terms of NEW). How the coalescing tests see how many statements reached a row.
 */
export async function countRowWrites(db: KindsDatabase, table: string, keyExpression: string): Promise<void> {
  const fn = `log_${table}_write`;
  await db.pool.query(`
    CREATE TABLE IF NOT EXISTS row_writes (tbl text, key text, at timestamptz DEFAULT clock_timestamp());
    CREATE FUNCTION ${fn}() RETURNS trigger AS $$
      BEGIN INSERT INTO row_writes (tbl, key) VALUES ('${table}', ${keyExpression}); RETURN NEW; END $$ LANGUAGE plpgsql;
    CREATE TRIGGER ${table}_row_writes AFTER INSERT OR UPDATE ON "${table}" FOR EACH ROW EXECUTE FUNCTION ${fn}();
  `);
}

export async function rowWrites(db: KindsDatabase, table: string, key: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM row_writes WHERE tbl = $1 AND key = $2',
    [table, key],
  );
  return rows[0]?.n ?? 0;
}
