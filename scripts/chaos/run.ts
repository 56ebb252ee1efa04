// `npm run chaos -- --duration 60s`: the consistency checker under faults (worker kills, a PostgreSQL outage)
// over increments, adds, sets, deletes, appends, reads, and comments (children of the videos); its table on
// stdout, exit code 1 on any mismatch, a failed drain or a failed job. `npm run chaos -- --help` lists the flags. The run itself lives in @write-behind/testkit/chaos
// (packages/testkit/src/chaos/), which test/chaos.test.ts runs too.
import {
  CHAOS_USAGE,
  chaosPassed,
  formatReport,
  parseChaosArgs,
  resolveChaosOptions,
  runChaos,
} from '@write-behind/testkit/chaos';

let command: ReturnType<typeof parseChaosArgs>;
try {
  command = parseChaosArgs(process.argv.slice(2));
  resolveChaosOptions(command.options);
} catch (error) {
  process.stderr.write(`chaos: ${(error as Error).message}\n${CHAOS_USAGE}\n`);
  process.exit(2);
}
if (command.help) {
  process.stdout.write(`${CHAOS_USAGE}\n`);
  process.exit(0);
}
const report = await runChaos(command.options);
process.stdout.write(command.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
process.exit(chaosPassed(report) ? 0 : 1);
