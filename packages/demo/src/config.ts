/**
 * Configuration from environment variables, parsed and checked once at start-up. Each app declares the
 * variables it reads as a spec (name → parser, default, description); {@link loadConfig} returns a typed
 * object or throws one {@link ConfigError} that names every wrong variable and says what it expects.
 *
 * @example
 * ```ts
 * const spec = { PORT: port({ default: 3000, description: 'HTTP port' }) };
 * const config = loadConfig(process.env, spec); // { PORT: 3000 }, or throws "PORT must be ..."
 * ```
 */
import { urlSecrets } from './redact.ts';

export interface VariableSpec<T> {
  /** One line for the README and for error messages about a missing value. */
  readonly description: string;
  /** Used when the variable is unset or empty. Without it the variable is required (unless `optional`). */
  readonly default?: T;
  /** Unset reads as `undefined` instead of failing. */
  readonly optional?: boolean;
  /** Never echo the value in an error (passwords, URLs that may carry one). */
  readonly secret?: boolean;
  /**
   * The parts of a `secret` value to mask wherever they appear (see {@link configSecrets}): the password of
   * a URL rather than the whole URL. @defaultValue the value itself, when it is a string
   */
  secrets?(value: T): string[];
  /** Turns the raw string into the value; throws an `Error` whose message says what was expected. */
  parse(raw: string): T;
}

export type ConfigSpec = Record<string, VariableSpec<unknown>>;

/** The typed result of {@link loadConfig} for a spec. */
export type Config<S extends ConfigSpec> = {
  readonly [K in keyof S]: S[K] extends VariableSpec<infer T>
    ? S[K] extends { optional: true }
      ? T | undefined
      : T
    : never;
};

/** Thrown by {@link loadConfig}; `variables` lists the names that are wrong, the message says why. */
export class ConfigError extends Error {
  readonly variables: string[];

  constructor(problems: { variable: string; problem: string }[]) {
    super(
      `invalid configuration (environment variables):\n${problems.map((p) => `  ${p.problem}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.variables = problems.map((p) => p.variable);
  }
}

/**
 * Reads every variable of `spec` from `env`, applying defaults. Collects all problems before throwing, so
 * one start-up shows everything to fix.
 */
export function loadConfig<S extends ConfigSpec>(
  env: Readonly<Record<string, string | undefined>>,
  spec: S,
): Config<S> {
  const values: Record<string, unknown> = {};
  const problems: { variable: string; problem: string }[] = [];
  for (const [name, variable] of Object.entries(spec)) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') {
      if (variable.default !== undefined) values[name] = variable.default;
      else if (variable.optional) values[name] = undefined;
      else problems.push({ variable: name, problem: `${name} is required: ${variable.description}` });
      continue;
    }
    try {
      values[name] = variable.parse(raw.trim());
    } catch (error) {
      const expected = error instanceof Error ? error.message : String(error);
      const shown = variable.secret ? '(value not shown)' : `got ${JSON.stringify(raw)}`;
      problems.push({ variable: name, problem: `${name} must be ${expected}, ${shown}` });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return values as Config<S>;
}

/**
 * Every secret in `config`, for the log redaction (`createLogger`): what each variable marked `secret`
 * holds, as its `secrets` says.
 *
 * @example
 * ```ts
 * configSecrets(cacheConfigSpec, config); // ['hunter2'] for REDIS_URL=redis://:hunter2@redis:6379
 * ```
 */
export function configSecrets<S extends ConfigSpec>(spec: S, config: Config<S>): string[] {
  const values = config as Record<string, unknown>;
  return Object.entries(spec).flatMap(([name, variable]) => {
    const value = values[name];
    if (!variable.secret || value === undefined) return [];
    if (variable.secrets) return variable.secrets(value);
    return typeof value === 'string' ? [value] : [];
  });
}

/** Rows for documentation: name, default (as text) and description of every variable. */
export function describeConfig(spec: ConfigSpec): { name: string; default: string; description: string }[] {
  return Object.entries(spec).map(([name, variable]) => ({
    name,
    default:
      variable.default === undefined
        ? variable.optional
          ? '(unset)'
          : '(required)'
        : String(variable.default),
    description: variable.description,
  }));
}

interface Common<T> {
  description: string;
  default?: T;
}

/** A string; `pattern` restricts it. */
export function text(options: Common<string> & { pattern?: RegExp; expected?: string; secret?: boolean }) {
  return {
    ...options,
    parse(raw: string): string {
      if (options.pattern && !options.pattern.test(raw)) {
        throw new Error(options.expected ?? `a string matching ${options.pattern}`);
      }
      return raw;
    },
  } satisfies VariableSpec<string>;
}

/** An integer in `[min, max]`. */
export function integer(options: Common<number> & { min?: number; max?: number }) {
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  return {
    ...options,
    parse(raw: string): number {
      const value = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        throw new Error(`an integer from ${min} to ${max}`);
      }
      return value;
    },
  } satisfies VariableSpec<number>;
}

/** A TCP port; 0 asks the system for a free one (the app logs the port it got). */
export function port(options: Common<number>) {
  return integer({ ...options, min: 0, max: 65_535 });
}

/** One of a fixed list of words. */
export function oneOf<const W extends string>(words: readonly W[], options: Common<W>) {
  return {
    ...options,
    parse(raw: string): W {
      if (!(words as readonly string[]).includes(raw)) throw new Error(`one of ${words.join(', ')}`);
      return raw as W;
    },
  } satisfies VariableSpec<W>;
}

/**
 * A URL with one of `protocols` (with the trailing colon, as `URL.protocol` has it). Secret by default:
 * connection URLs often carry a password.
 */
export function url(options: Common<string> & { protocols: readonly string[] }) {
  return {
    ...options,
    secret: true,
    secrets: urlSecrets,
    parse(raw: string): string {
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        throw new Error(`a URL (${options.protocols.map((p) => `${p}//`).join(' or ')})`);
      }
      if (!options.protocols.includes(parsed.protocol)) {
        throw new Error(`a ${options.protocols.map((p) => `${p}//`).join(' or ')} URL`);
      }
      return raw;
    },
  } satisfies VariableSpec<string>;
}

/** Marks a variable as optional: unset reads as `undefined`. */
export function optional<T>(variable: VariableSpec<T>) {
  return { ...variable, optional: true as const };
}

/** Host names and addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
