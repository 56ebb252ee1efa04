/**
 * The apps' logger: pino, with every call going through one {@link Redactor} before anything is written.
 * Every app builds its logger here, so no log line of any app can skip the redaction.
 */
import { type DestinationStream, type LevelWithSilent, type LogFn, type Logger, pino } from 'pino';
import { Redactor } from './redact.ts';

export interface CreateLoggerOptions {
  /** The app's name: the `name` field of every line. */
  name: string;
  /** pino's level (`LOG_LEVEL`). */
  level: LevelWithSilent;
  /**
   * Values to mask wherever they appear, whatever logs them: `configSecrets(spec, config)`, and any
   * password the process makes. @defaultValue none (URL credentials are masked all the same)
   */
  secrets?: Iterable<string>;
  /** Where the lines go. @defaultValue standard output */
  destination?: DestinationStream;
}

/**
 * A pino logger whose every call (on it or on its children) is made safe first: errors reduced to what
 * went wrong, URL credentials and the given secrets masked, in the merge object, the message and the
 * interpolation values alike. Child bindings are not redacted: they are set by the apps' own code.
 *
 * @example
 * ```ts
 * const logger = createLogger({ name: 'worker', level: 'info', secrets: configSecrets(spec, config) });
 * logger.warn({ err }, 'could not collect metrics'); // err without its attached command
 * ```
 */
export function createLogger({ name, level, secrets = [], destination }: CreateLoggerOptions): Logger {
  const redactor = new Redactor(secrets);
  const options = {
    name,
    level,
    // The hook below has already reduced every error; pino's own serializer would treat that plain copy as
    // an error again and rename its type to `Object`.
    serializers: { err: (value: unknown) => value },
    hooks: {
      logMethod(this: Logger, args: Parameters<LogFn>, method: LogFn) {
        method.apply(this, redactArguments(args, redactor));
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

function redactArguments(args: Parameters<LogFn>, redactor: Redactor): Parameters<LogFn> {
  const [first, ...rest] = args as unknown[];
  if (first instanceof Error) {
    // pino logs a lone error under `err`, with its message as the line's when none is given: do the same
    // with the safe copy, which pino would no longer recognise as an error.
    const err = redactor.error(first);
    const tail = rest.length > 0 ? rest.map((arg) => redactor.value(arg)) : [err.message];
    return [{ err }, ...tail] as Parameters<LogFn>;
  }
  return (args as unknown[]).map((arg) => redactor.value(arg)) as Parameters<LogFn>;
}
