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
import { runCheckCommand } from '../lib/command-line.ts';

await runCheckCommand({
  name: 'chaos',
  usage: CHAOS_USAGE,
  parse: (argv) => {
    const command = parseChaosArgs(argv);
    resolveChaosOptions(command.options);
    return command;
  },
  run: (command) => runChaos(command.options),
  format: formatReport,
  passed: chaosPassed,
});
