// @write-behind/core as a user gets it: built, packed with `npm pack`, installed from the tarball into a
// throwaway project outside the repository, then used from plain ESM, from CommonJS and from TypeScript
// compiled by tsc with the strictest settings a user may have. Each of the three writes through to
// PostgreSQL, so a missing file, a wrong `exports` condition, Lua that is not found next to the CommonJS
// build or a declaration that does not compile fails here rather than in a user's project.
//
// The package README's snippets run here too, as written: each block marked `<!-- test: <path> -->` in
// packages/write-behind/README.md is written to <path> of a second project beside the first (its Prisma models,
// its SQL, its cache module, app and worker), which is compiled and run against a fresh schema and a Redis of its
// own (the README's prefix is fixed), and the rows its writes leave are checked.
//
// Inside the monorepo nothing else sees dist/: tsx and tsc resolve the package to its sources through the
// root tsconfig's `paths`. This is the only test of what is published.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tombstoneTableSql } from '@write-behind/core';
import {
  cleanupRedis,
  DATABASE_URL,
  REDIS_URL,
  type RedisServer,
  schemaUrl,
  startRedis,
  testPrefix,
} from '@write-behind/testkit';
import pg from 'pg';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const STEP_TIMEOUT_MS = 120_000;
/** One consumer run takes about half a second; a hang (a flush that never lands) fails well before this. */
const CONSUMER_TIMEOUT_MS = 30_000;

/**
 * What the consumer installs beside the tarball: the peers (the optional ones of the Bull Board entry too, so
 * that every entry loads and type-checks), Prisma, and what compiles TypeScript.
 */
const CONSUMER_PACKAGES = [
  'bullmq',
  'ioredis',
  '@prisma/client',
  '@prisma/adapter-pg',
  'pg',
  'prisma',
  '@bull-board/api',
  '@bull-board/express',
  'express',
  'typescript',
  '@types/node',
  '@types/express',
];

/**
 * Each at the version the monorepo's lockfile holds, so npm's cache already has it and the install needs no
 * network in practice. `PACKAGE_TEST_VERSIONS="ioredis@5.4.1 bullmq@6.7.0"` tries others (within the peer
 * ranges), which is how a peer range is checked before it is widened.
 */
async function consumerPackages(): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const overrides = (process.env.PACKAGE_TEST_VERSIONS ?? '').split(/\s+/).filter(Boolean);
  return CONSUMER_PACKAGES.map((name) => {
    const override = overrides.find((spec) => spec.startsWith(`${name}@`));
    if (override) return override;
    const version = lock.packages[`node_modules/${name}`]?.version;
    assert.ok(version, `package-lock.json has no node_modules/${name}`);
    return `${name}@${version}`;
  });
}

/**
 * Runs a command and resolves to its stdout; rejects with its stderr. npm's own variables are left out: a
 * test started by `npm test` inherits the monorepo's (`npm_config_local_prefix` and more), which must not
 * steer the installs into the throwaway project.
 */
function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
  timeoutMs = STEP_TIMEOUT_MS,
): Promise<string> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD'),
  );
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: { ...inherited, ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`))
          : resolve(stdout),
    );
  });
}

/** The consumer's own data model: a model of its own plus the tombstone model the library needs. */
const PRISMA_SCHEMA = `
generator client {
  provider            = "prisma-client"
  output              = "../src/generated"
  moduleFormat        = "esm"
  // tsc compiles the client with the rest of the project, so its imports must name the emitted .js files.
  importFileExtension = "js"
}

datasource db {
  provider = "postgresql"
}

model Post {
  id      String @id
  likes   BigInt @default(0)
  version BigInt @default(0)
}

// As in prisma/schema.prisma.
model WriteBehindTombstone {
  entity    String
  key       String
  version   BigInt
  deletedAt DateTime @default(now()) @map("deleted_at")

  @@id([entity, key])
  @@index([deletedAt])
  @@map("write_behind_tombstone")
}
`;

/**
 * The same tables as SQL (what `prisma migrate` would create; it cannot run here), the tombstone table's as the
 * library prints it for users who create it by hand.
 */
const CREATE_TABLES = `
CREATE TABLE "Post" (
  "id" TEXT NOT NULL PRIMARY KEY,
  "likes" BIGINT NOT NULL DEFAULT 0,
  "version" BIGINT NOT NULL DEFAULT 0
);
${tombstoneTableSql()}
`;

/** A user's strict settings: no skipLibCheck, and the default lib of the target (no ES2024 string methods). */
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    // Only Node's globals: the Prisma CLI drags in @types/react and others, which are not ours to check.
    types: ['node'],
    rootDir: 'src',
    outDir: 'out',
  },
  include: ['src'],
};

/**
 * One increment per consumer, written through to PostgreSQL by a worker in the same process; prints the
 * returned value and the file the package resolved to. `by` differs per consumer so each row is told apart.
 */
const USE_CACHE = (by: number, resolved: string) => `
  const { DATABASE_URL, REDIS_URL, WB_PREFIX, WB_ID } = process.env;
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: DATABASE_URL }) });
  const cache = createWriteBehind({
    redis: REDIS_URL,
    prisma,
    prefix: WB_PREFIX,
    entities: { post: { model: 'Post', fields: { likes: counter() } } },
    flush: { windowMs: 50 },
  });
  const worker = cache.createWorker();
  await worker.ready;
  const likes = await cache.increment('post', WB_ID, 'likes', ${by});
  await cache.flushed('post', WB_ID);
  await worker.close();
  await cache.close();
  await prisma.$disconnect();
  console.log(JSON.stringify({ likes, resolved: ${resolved} }));
`;

const ESM_CONSUMER = `
import { PrismaPg } from '@prisma/adapter-pg';
import { counter, createWriteBehind } from '@write-behind/core';
import { PrismaClient } from './out/generated/client.js';
${USE_CACHE(1, "import.meta.resolve('@write-behind/core')")}`;

const CJS_CONSUMER = `
const { PrismaPg } = require('@prisma/adapter-pg');
const { counter, createWriteBehind } = require('@write-behind/core');

async function main() {
  // The generated client is ESM; a CommonJS app loads it with import(), as it loads any ESM package.
  const { PrismaClient } = await import('./out/generated/client.js');
${USE_CACHE(2, "require.resolve('@write-behind/core')")}}
main().catch((error) => {
  console.error(error);
  process.exit(1); // open connections would keep the process alive
});
`;

const TS_CONSUMER = `
import { PrismaPg } from '@prisma/adapter-pg';
import { counter, createWriteBehind, type WriteBehindOptions } from '@write-behind/core';
import { PrismaClient } from './generated/client.js';

const { DATABASE_URL, REDIS_URL, WB_PREFIX, WB_ID } = process.env;
if (!DATABASE_URL || !REDIS_URL || !WB_PREFIX || !WB_ID) throw new Error('missing environment');
const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: DATABASE_URL }) });
const entities = { post: { model: 'Post', fields: { likes: counter() } } };
const options: WriteBehindOptions<typeof entities> = {
  redis: REDIS_URL,
  prisma,
  prefix: WB_PREFIX,
  entities,
  flush: { windowMs: 50 },
};
const cache = createWriteBehind(options);
const worker = cache.createWorker();
await worker.ready;
const likes: number = await cache.increment('post', WB_ID, 'likes', 3);
await cache.flushed('post', WB_ID);
await worker.close();
await cache.close();
await prisma.$disconnect();
console.log(JSON.stringify({ likes, resolved: import.meta.resolve('@write-behind/core') }));
`;

/**
 * Loads every entry of the package both ways in one process: its file, its export names, and whether a
 * binding exported by two entries is one object (so `instanceof` works whichever entry a class came from).
 */
const ENTRIES_PROBE = `
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const entries = JSON.parse(process.env.WB_ENTRIES);
const loaded = { import: {}, require: {} };
for (const entry of entries) {
  loaded.import[entry] = await import(entry);
  loaded.require[entry] = require(entry);
}
const report = {};
for (const entry of entries) {
  report[entry] = {
    import: { resolved: import.meta.resolve(entry), names: Object.keys(loaded.import[entry]).sort() },
    require: { resolved: require.resolve(entry), names: Object.keys(loaded.require[entry]).sort() },
  };
}
const notShared = [];
for (const format of ['import', 'require']) {
  const [first, ...others] = entries.map((entry) => [entry, loaded[format][entry]]);
  for (const [entry, module] of others) {
    for (const name of Object.keys(module)) {
      if (name in first[1] && first[1][name] !== module[name]) notShared.push(format + ' ' + entry + ' ' + name);
    }
  }
}
console.log(JSON.stringify({ report, notShared }));
`;

/** Type-checked only: a CommonJS TypeScript file must get the require-flavoured declarations. */
const CTS_CONSUMER = `
import wb = require('@write-behind/core');

export const entities = {
  post: { model: 'Post', fields: { likes: wb.counter() } },
} satisfies wb.EntityDefinitions;

export function isLibraryError(error: unknown): error is wb.WriteBehindError {
  return error instanceof wb.WriteBehindError;
}
`;

/** Type-checked only: the declarations of every entry, for import and for require. */
function entryTypeImports(specifiers: string[]): { esm: string; cjs: string } {
  return {
    esm: specifiers.map((specifier, i) => `export type * as Entry${i} from '${specifier}';\n`).join(''),
    cjs: specifiers
      .map((specifier, i) => `import Entry${i} = require('${specifier}');\nexport { Entry${i} };\n`)
      .join(''),
  };
}

/** The package's public entries as import specifiers, from its `exports`. */
async function packageEntries(): Promise<{ specifier: string; file: string }[]> {
  const manifest = JSON.parse(await readFile(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, unknown>;
  };
  return Object.keys(manifest.exports)
    .filter((subpath) => subpath !== './package.json')
    .map((subpath) => ({
      specifier: subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`,
      file: subpath === '.' ? 'index' : subpath.slice(2),
    }));
}

let workDir: string;
let entries: { specifier: string; file: string }[];
let project: string;
let schema: string;
let pool: pg.Pool;
const prefix = testPrefix();
let compiled: { ok: true; explained: string } | { ok: false; error: Error };

before(
  async () => {
    const started = Date.now();
    const lap = (step: string) => console.log(`# package test: ${step} at ${Date.now() - started} ms`);
    workDir = await mkdtemp(join(tmpdir(), 'write-behind-package-'));
    project = join(workDir, 'consumer');
    schema = `wbpkg_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
    pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });

    await run('npm', ['run', 'build'], PACKAGE_DIR);
    lap('built');
    const [packed] = JSON.parse(
      await run('npm', ['pack', '--json', '--pack-destination', workDir], PACKAGE_DIR),
    ) as { filename: string }[];
    assert.ok(packed, 'npm pack made a tarball');
    lap('packed');

    await mkdir(join(project, 'prisma'), { recursive: true });
    await mkdir(join(project, 'src'), { recursive: true });
    await writeFile(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'write-behind-consumer', private: true, type: 'module' }, null, 2)}\n`,
    );
    const specs = await consumerPackages();
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        // Prisma's install scripts would try to download engines; nothing here needs them.
        '--ignore-scripts',
        join(workDir, packed.filename),
        ...specs,
      ],
      project,
    );
    lap(`installed ${specs.join(' ')}`);

    await writeFile(join(project, 'prisma', 'schema.prisma'), PRISMA_SCHEMA);
    // As in scripts/prisma-generate.mjs: `generate` never runs the schema engine, but the CLI insists on
    // finding one; any existing file will do. No update check over the network either.
    await run(
      join(project, 'node_modules', '.bin', 'prisma'),
      ['generate', '--schema', 'prisma/schema.prisma'],
      project,
      {
        PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
        CHECKPOINT_DISABLE: '1',
      },
    );
    lap('generated the Prisma client');

    await writeFile(join(project, 'tsconfig.json'), `${JSON.stringify(TSCONFIG, null, 2)}\n`);
    await writeFile(join(project, 'src', 'consumer.ts'), TS_CONSUMER);
    await writeFile(join(project, 'src', 'require.cts'), CTS_CONSUMER);
    entries = await packageEntries();
    const typeImports = entryTypeImports(entries.map((entry) => entry.specifier));
    await writeFile(join(project, 'src', 'entries.ts'), typeImports.esm);
    await writeFile(join(project, 'src', 'entries-require.cts'), typeImports.cjs);
    await writeFile(join(project, 'entries.mjs'), ENTRIES_PROBE);
    await writeFile(join(project, 'esm.mjs'), ESM_CONSUMER);
    await writeFile(join(project, 'cjs.cjs'), CJS_CONSUMER);
    // tsc emits even when it reports errors, so the ESM and CommonJS consumers still get their compiled
    // Prisma client and the type errors fail only the test that is about them.
    compiled = await run(
      process.execPath,
      [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.', '--explainFiles'],
      project,
    ).then(
      (explained) => ({ ok: true as const, explained }),
      (error: Error) => ({ ok: false as const, error }),
    );
    lap('compiled');

    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`SET search_path TO ${schema}; ${CREATE_TABLES}`);
  },
  { timeout: 4 * STEP_TIMEOUT_MS },
);

after(async () => {
  await pool?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool?.end();
  await cleanupRedis(prefix);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Runs one consumer file and checks its write reached PostgreSQL. */
async function runConsumer(file: string, id: string, expectedLikes: number): Promise<string> {
  const env = { DATABASE_URL: schemaUrl(schema), REDIS_URL, WB_PREFIX: prefix, WB_ID: id };
  const stdout = await run(process.execPath, [file], project, env, CONSUMER_TIMEOUT_MS);
  const reply = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { likes: number; resolved: string };
  assert.equal(reply.likes, expectedLikes);
  const { rows } = await pool.query(`SELECT likes::int FROM ${schema}."Post" WHERE id = $1`, [id]);
  assert.deepEqual(rows, [{ likes: expectedLikes }], `row ${id} holds what ${file} wrote`);
  return reply.resolved;
}

test('tsc compiles a consumer under strict, exactOptionalPropertyTypes and skipLibCheck: false', () => {
  if (!compiled.ok) throw compiled.error;
  // `--explainFiles` lists each file with the reasons it was included, indented below it.
  const reasons = new Map<string, string>();
  let current = '';
  for (const line of compiled.explained.split('\n')) {
    if (/^\S/.test(line)) {
      current = line.trim();
      reasons.set(current, '');
    } else reasons.set(current, `${reasons.get(current)}${line}\n`);
  }
  const library = [...reasons.keys()].filter((file) => file.startsWith('node_modules/@write-behind/core/'));
  const importedFrom = (file: string) => reasons.get(`node_modules/@write-behind/core/dist/${file}`) ?? '';
  assert.match(
    importedFrom('index.d.ts'),
    /Imported via '@write-behind\/core' from file 'src\/consumer\.ts'/,
  );
  assert.match(
    importedFrom('index.d.cts'),
    /Imported via '@write-behind\/core' from file 'src\/require\.cts'/,
  );
  for (const { specifier, file } of entries) {
    assert.match(
      importedFrom(`${file}.d.ts`),
      new RegExp(`Imported via '${specifier}' from file 'src/entries\\.ts'`),
    );
    assert.match(
      importedFrom(`${file}.d.cts`),
      new RegExp(`Imported via '${specifier}' from file 'src/entries-require\\.cts'`),
    );
  }
  // The require side never reaches an ESM declaration, nor the import side a CommonJS one.
  for (const file of library) {
    const from = reasons.get(file) ?? '';
    if (file.endsWith('.d.cts')) assert.doesNotMatch(from, /\.d\.ts'|ECMAScript module/, file);
    else assert.doesNotMatch(from, /\.d\.cts'/, file);
  }
});

test('every entry loads from import and from require, with the same exports and shared objects', async () => {
  const stdout = await run(process.execPath, ['entries.mjs'], project, {
    WB_ENTRIES: JSON.stringify(entries.map((entry) => entry.specifier)),
  });
  const { report, notShared } = JSON.parse(stdout) as {
    report: Record<string, Record<'import' | 'require', { resolved: string; names: string[] }>>;
    notShared: string[];
  };
  for (const { specifier, file } of entries) {
    const loaded = report[specifier];
    assert.ok(loaded, specifier);
    assert.ok(loaded.import.resolved.endsWith(`/node_modules/@write-behind/core/dist/${file}.js`), specifier);
    assert.ok(
      loaded.require.resolved.endsWith(`/node_modules/@write-behind/core/dist/${file}.cjs`),
      specifier,
    );
    assert.ok(loaded.import.names.length > 0, `${specifier} exports something`);
    assert.deepEqual(loaded.require.names, loaded.import.names, `${specifier}: the same exports both ways`);
  }
  assert.deepEqual(notShared, [], 'a binding exported by two entries is one object');
});

test('plain ESM imports dist/index.js and writes through to PostgreSQL', async () => {
  const resolved = await runConsumer('esm.mjs', 'p-esm', 1);
  assert.match(resolved, /\/node_modules\/@write-behind\/core\/dist\/index\.js$/);
});

test('CommonJS requires dist/index.cjs, finds its Lua and writes through to PostgreSQL', async () => {
  const resolved = await runConsumer('cjs.cjs', 'p-cjs', 2);
  assert.match(resolved, /\/node_modules\/@write-behind\/core\/dist\/index\.cjs$/);
});

test('compiled TypeScript (ESM) imports dist/index.js and writes through to PostgreSQL', async () => {
  const resolved = await runConsumer('out/consumer.js', 'p-ts', 3);
  assert.match(resolved, /\/node_modules\/@write-behind\/core\/dist\/index\.js$/);
});

/**
 * The blocks of `markdown` marked `<!-- test: <path> -->` (on the line before the block), by path; blocks with
 * the same path joined in order.
 */
function markedBlocks(markdown: string): Map<string, string> {
  const files = new Map<string, string>();
  const markers = [...markdown.matchAll(/<!--\s*test:\s*(\S+)\s*-->/g)].map((match) => match[1]);
  const blocks = [...markdown.matchAll(/<!--\s*test:\s*(\S+)\s*-->\n```\w*\n([\s\S]*?)```/g)];
  assert.deepEqual(
    blocks.map((match) => match[1]),
    markers,
    'every test: marker is on the line right above a fenced block',
  );
  for (const [, path, content] of blocks) {
    if (path === undefined || content === undefined) continue;
    files.set(path, files.has(path) ? `${files.get(path)}\n${content}` : content);
  }
  return files;
}

/** What the README's models leave to the user's Prisma setup: the generator and the datasource. */
const README_SCHEMA_HEADER = `
generator client {
  provider            = "prisma-client"
  output              = "../src/generated/prisma"
  moduleFormat        = "esm"
  importFileExtension = "js"
}

datasource db {
  provider = "postgresql"
}
`;

/**
 * The tables of the README's models as Prisma Migrate would create them, but for what the README's own SQL
 * adds (Video's version column and the tombstone table), so that its SQL is what completes them.
 */
const README_TABLES = `
CREATE TYPE "Plan" AS ENUM ('FREE', 'PRO');
CREATE TABLE "Video" (
  "id" TEXT NOT NULL PRIMARY KEY,
  "likes" BIGINT NOT NULL DEFAULT 0,
  "views" BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE "Player" (
  "id" INTEGER NOT NULL PRIMARY KEY,
  "score" INTEGER NOT NULL DEFAULT 0,
  "name" TEXT NOT NULL,
  "balance" DECIMAL(12,2) NOT NULL DEFAULT 0,
  "plan" "Plan" NOT NULL DEFAULT 'FREE',
  "version" BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE "Membership" (
  "orgId" UUID NOT NULL,
  "userId" INTEGER NOT NULL,
  "visits" BIGINT NOT NULL DEFAULT 0,
  "lastSeen" TIMESTAMP(3),
  "prefs" JSONB,
  "version" BIGINT NOT NULL DEFAULT 0,
  CONSTRAINT "Membership_pkey" PRIMARY KEY ("orgId", "userId")
);
`;

/**
 * The README's steps in one process, in the order a deployment has them: the worker (step 4, whose
 * `runFlushWorker` resolves once it is ready), the app's writes (step 3), then a wait for the flush. SIGTERM
 * then ends it as the README says: the worker drains, the cache closes, the process exits 0.
 */
const README_MAIN = `
import { cache } from './cache.js';

await import('./worker.js');
await import('./app.js');
await cache.flush({ timeoutMs: 20_000 });
console.log('flushed');
process.kill(process.pid, 'SIGTERM');
`;

test("the package README's marked snippets run as written against a fresh database", async () => {
  const markdown = await readFile(join(PACKAGE_DIR, 'README.md'), 'utf8');
  const files = markedBlocks(markdown);
  for (const path of [
    'prisma/schema.prisma',
    'migration.sql',
    'src/cache.ts',
    'src/app.ts',
    'src/worker.ts',
    'src/esm.ts',
    'require.cjs',
  ]) {
    assert.ok(files.has(path), `the README marks a block as ${path}`);
  }
  const readmeProject = join(project, 'readme');
  // Inside the consumer, so that it resolves the same installed packages.
  for (const [path, content] of [
    ...files,
    ['prisma/schema.prisma', README_SCHEMA_HEADER + (files.get('prisma/schema.prisma') as string)],
    ['src/main.ts', README_MAIN],
    ['tsconfig.json', `${JSON.stringify(TSCONFIG, null, 2)}\n`],
  ] as const) {
    await mkdir(join(readmeProject, path, '..'), { recursive: true });
    await writeFile(join(readmeProject, path), content);
  }
  await run(
    join(project, 'node_modules', '.bin', 'prisma'),
    ['generate', '--schema', 'prisma/schema.prisma'],
    readmeProject,
    { PRISMA_SCHEMA_ENGINE_BINARY: process.execPath, CHECKPOINT_DISABLE: '1' },
  );
  await run(
    process.execPath,
    [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'],
    readmeProject,
  );

  const readmeSchema = `wbreadme_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const migration = files.get('migration.sql') as string;
  await pool.query(`CREATE SCHEMA ${readmeSchema}`);
  let redis: RedisServer | undefined;
  try {
    await pool.query(`SET search_path TO ${readmeSchema}; ${README_TABLES} ${migration}; RESET search_path`);
    // The README's "second part" is what tombstoneTableSql() prints.
    const printed = await run(
      process.execPath,
      ['--input-type=module', '-e', "console.log((await import('@write-behind/core')).tombstoneTableSql())"],
      readmeProject,
    );
    assert.equal(printed.trim(), migration.slice(migration.indexOf('CREATE TABLE')).trim());

    await run(process.execPath, ['require.cjs'], readmeProject);
    await run(process.execPath, ['out/esm.js'], readmeProject);

    redis = await startRedis(['--save', '', '--appendonly', 'no']);
    const env = { DATABASE_URL: schemaUrl(readmeSchema), REDIS_URL: `redis://127.0.0.1:${redis.port}` };
    const stdout = await run(process.execPath, ['out/main.js'], readmeProject, env, CONSUMER_TIMEOUT_MS);
    assert.match(stdout, /^flushed$/m);

    const rows = async (sql: string) => (await pool.query(sql.replaceAll('$schema', readmeSchema))).rows;
    assert.deepEqual(await rows('SELECT id, likes::int, views::int FROM $schema."Video"'), [
      { id: 'v1', likes: 1, views: 0 },
    ]);
    assert.deepEqual(await rows('SELECT id, score, name, balance::text, plan::text FROM $schema."Player"'), [
      { id: 42, score: 10, name: 'Ada', balance: '12.50', plan: 'PRO' },
    ]);
    assert.deepEqual(
      await rows('SELECT "orgId"::text, "userId", visits::int, "lastSeen", prefs FROM $schema."Membership"'),
      [{ orgId: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', userId: 7, visits: 1, lastSeen: null, prefs: null }],
    );
  } finally {
    await redis?.kill();
    await pool.query(`DROP SCHEMA IF EXISTS ${readmeSchema} CASCADE`);
  }
});
