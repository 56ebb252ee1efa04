// Issue 27: `node --import tsx scripts/flood.ts --ids 1000000` writes that many distinct video ids through the
// demo api under a 64 MiB memory budget (an api and a worker started on a fresh prefix and schema, or a running
// api: --api-url), samples the cache's Redis memory while they go in, waits for the drain and checks every row
// in PostgreSQL against what the api acknowledged. `--help` lists the flags; exit code 1 when an acknowledged
// write was lost or a row is not exact. The run lives in packages/testkit/src/flood.ts, which
// test/api-memory-budget.test.ts runs at a small scale.
import { FLOOD_USAGE, floodPassed, formatFloodReport, parseFloodArgs, runFlood } from '@write-behind/testkit';
import { runCheckCommand } from './lib/command-line.ts';

await runCheckCommand({
  name: 'flood',
  usage: FLOOD_USAGE,
  parse: parseFloodArgs,
  run: (command) =>
    runFlood({
      ...command.options,
      ...(command.quiet ? {} : { progress: (line: string) => process.stderr.write(`${line}\n`) }),
    }),
  format: formatFloodReport,
  passed: floodPassed,
});
