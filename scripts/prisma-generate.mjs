// Regenerates the Prisma clients (`npm run db:generate`): the demo's (prisma/schema.prisma, into
// packages/db/src/generated) and the kinds test schema's (test/schemas/kinds, into its generated/ folder).
// Usage: node scripts/prisma-generate.mjs [--force]
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/**
 * Each client: its Prisma config, its schema, and its output's client.ts (written on every generate, so its
 * age is the age of the whole output).
 */
const clients = [
  {
    name: 'demo',
    config: `${root}prisma.config.ts`,
    schemaFile: `${root}prisma/schema.prisma`,
    generatedMarker: `${root}packages/db/src/generated/client.ts`,
  },
  {
    name: 'kinds (test)',
    config: `${root}test/schemas/kinds/prisma.config.ts`,
    schemaFile: `${root}test/schemas/kinds/schema.prisma`,
    generatedMarker: `${root}test/schemas/kinds/generated/client.ts`,
  },
];
const force = process.argv.includes('--force');

// Every `npm test` runs this; skipping an up-to-date client keeps repeated runs fast.
const stale = clients.filter(
  ({ schemaFile, generatedMarker }) =>
    force ||
    !existsSync(generatedMarker) ||
    statSync(generatedMarker).mtimeMs <= statSync(schemaFile).mtimeMs,
);
if (stale.length === 0) {
  console.log('prisma clients are up to date (run with --force to regenerate)');
  process.exit(0);
}

const childEnv = { ...process.env };
// The Prisma CLI insists on resolving a schema engine binary before any command and downloads it
// when missing, which fails offline. `generate` never executes that engine, so pointing the variable
// at any existing file lets it run. Only this child sees the override: a user's own
// `npx prisma migrate deploy` still finds (or downloads) the real engine.
childEnv.PRISMA_SCHEMA_ENGINE_BINARY ??= process.execPath;
// Generation must not wait on Prisma's update check over the network.
childEnv.CHECKPOINT_DISABLE ??= '1';

for (const { name, config } of stale) {
  const result = spawnSync(`${root}node_modules/.bin/prisma`, ['generate', '--config', config], {
    cwd: root,
    env: childEnv,
    stdio: 'inherit',
  });
  if (result.error) {
    console.error(`could not start prisma: ${result.error.message} (did \`npm ci\` run?)`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`prisma generate failed for the ${name} client (${config})`);
    process.exit(result.status ?? 1);
  }
}
