// Regenerates the Prisma client into packages/db/src/generated (`npm run db:generate`).
// Usage: node scripts/prisma-generate.mjs [--force]
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const schemaFile = `${root}prisma/schema.prisma`;
// client.ts is written on every generate, so its age is the age of the whole output.
const generatedMarker = `${root}packages/db/src/generated/client.ts`;
const force = process.argv.includes('--force');

// Every `npm test` runs this; skipping an up-to-date client keeps repeated runs fast.
if (
  !force &&
  existsSync(generatedMarker) &&
  statSync(generatedMarker).mtimeMs > statSync(schemaFile).mtimeMs
) {
  console.log('prisma client is up to date (run with --force to regenerate)');
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

const result = spawnSync(
  `${root}node_modules/.bin/prisma`,
  ['generate', '--config', `${root}prisma.config.ts`],
  { cwd: root, env: childEnv, stdio: 'inherit' },
);
if (result.error) {
  console.error(`could not start prisma: ${result.error.message} (did \`npm ci\` run?)`);
  process.exit(1);
}
process.exit(result.status ?? 1);
