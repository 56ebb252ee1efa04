// The command lines of the scripts under scripts/: how a flag's text becomes an option, and the frame of a
// script that runs a check and reports it. `node:util` parseArgs reads the flags.
import { parseArgs } from 'node:util';

/** How a flag's text becomes its option's value; throws, naming `--flag`, on a text it cannot read. */
export type FlagParser = (text: string, flag: string) => number;

/**
 * Reads this process's command line. Each of `valueFlags` (`--name value`) sets the option of `O` it names, its
 * text read by its parser; a flag left out (or given empty) sets nothing, so the script's default holds. Each of
 * `booleanFlags` is `true` when given. Throws on an unknown flag, a positional argument, or a value its parser
 * refuses.
 * @example readFlags<SoakOptions>({ duration: ['durationMs', parseDuration], rate: ['rate', parseNumber] })
 */
export function readFlags<O, const B extends string = never>(
  valueFlags: Record<string, readonly [keyof O & string, FlagParser]>,
  booleanFlags: readonly B[] = [],
): { options: Partial<O>; flags: Record<B, boolean> } {
  const values: Record<string, unknown> = parseArgs({
    options: Object.fromEntries([
      ...Object.keys(valueFlags).map((flag) => [flag, { type: 'string' as const }]),
      ...booleanFlags.map((flag) => [flag, { type: 'boolean' as const }]),
    ]),
  }).values;
  const options: Record<string, number> = {};
  for (const [flag, [option, parse]] of Object.entries(valueFlags)) {
    const text = values[flag];
    if (typeof text === 'string' && text) options[option] = parse(text, flag);
  }
  const flags = Object.fromEntries(booleanFlags.map((flag) => [flag, values[flag] === true]));
  return { options: options as Partial<O>, flags: flags as Record<B, boolean> };
}

/**
 * Runs a script that checks something and reports it: reads its command line with `parse` (a refused one: the
 * reason and `usage` on stderr, exit code 2), prints `usage` for `--help`, and otherwise runs the check and
 * prints its report, as JSON with `--json`, exiting 0 when it `passed` and 1 when not.
 */
export async function runCheckCommand<C extends { help: boolean; json: boolean }, R>({
  name,
  usage,
  parse,
  run,
  format,
  passed,
}: {
  /** The script's name, which starts its error messages. */
  name: string;
  usage: string;
  parse: (argv: string[]) => C;
  run: (command: C) => Promise<R>;
  format: (report: R) => string;
  passed: (report: R) => boolean;
}): Promise<never> {
  let command: C;
  try {
    command = parse(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${name}: ${(error as Error).message}\n${usage}\n`);
    process.exit(2);
  }
  if (command.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const report = await run(command);
  process.stdout.write(command.json ? `${JSON.stringify(report, null, 2)}\n` : `${format(report)}\n`);
  process.exit(passed(report) ? 0 : 1);
}
