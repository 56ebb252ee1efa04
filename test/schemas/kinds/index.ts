// The kinds test schema (./schema.prisma) as the tests use it: its migrations folder, a Prisma Client factory
// for its generated client, and the entities declared on it, one per key kind, every field kind on `player`.
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import { counter, type EntityDefinitions, string } from '@write-behind/core';
import { definitions, misfits } from '../../../packages/write-behind/test/unit/fixtures/schema.ts';
import { PrismaClient } from './generated/client.ts';

export { misfits, PrismaClient };

export const KINDS_MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

/** A client of the kinds schema over `@prisma/adapter-pg`, one per test database. */
export function createKindsPrisma(connectionString: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString, max: 4 }) });
}

/**
 * The unit tests' entities (packages/write-behind/test/unit/fixtures/schema.ts, whose schema this one mirrors),
 * plus the BigInt key (`ledger`). Their enum values are written out there rather than read from this client's
 * `Tier` (the unit tests have no client); the cache refuses, when it starts, a value the schema's enum lacks.
 */
export const kindsEntities = {
  ...definitions,
  ledger: {
    model: 'Ledger',
    key: { id: 'bigint' },
    fields: { entries: counter(), memo: string({ nullable: true }) },
  },
} as const satisfies EntityDefinitions;
export type KindsEntities = typeof kindsEntities;

/**
 * The relation models' entities (test/relations): a composite-key parent (`team`) and its children
 * (`athlete`, whose foreign key lists the key's columns the other way round), a self-reference (`message`
 * replying to a message), and a parent the Prisma schema does not relate (`sensor` → `gateway`, a foreign
 * key in the migration's SQL alone, declared under `parents`).
 */
export const relationKindsEntities = {
  team: {
    model: 'Team',
    key: { league: 'string', code: 'string' },
    fields: { name: string(), wins: counter() },
  },
  athlete: {
    model: 'Athlete',
    key: { id: 'int' },
    fields: { league: string(), teamCode: string(), name: string(), goals: counter() },
  },
  message: { model: 'Message', fields: { replyToId: string({ nullable: true }), body: string() } },
  gateway: {
    model: 'Gateway',
    key: { id: 'uuid' },
    fields: { label: string({ nullable: true }), pings: counter() },
  },
  sensor: {
    model: 'Sensor',
    key: { id: 'int' },
    fields: { gatewayId: string(), label: string() },
    parents: { gateway: { entity: 'gateway', fields: ['gatewayId'] } },
  },
} as const satisfies EntityDefinitions;
export type RelationKindsEntities = typeof relationKindsEntities;
