/**
 * The one place that keeps secrets out of what the apps print. Every app logger goes through a
 * {@link Redactor} (see `createLogger` in `log.ts`), and a URL shown to anyone goes through
 * {@link redactUrl}. Three layers, each for a way a secret has leaked before:
 *
 * - Errors are reduced to their name, message, code, stack, cause and the errors attached to them:
 *   ioredis attaches the failed command to its errors, and `AUTH default <password>` (or
 *   `HELLO 3 AUTH ...`) is a command; Node's URL errors carry the whole input.
 * - Credentials written in a URL (`scheme://user:password@`, `?password=`) are masked in every string.
 * - The secrets the process knows (from its configuration, see `configSecrets`) are masked wherever they
 *   appear, whatever put them there.
 *
 * @example
 * ```ts
 * const redactor = new Redactor(['hunter2']);
 * redactor.text('redis://default:hunter2@redis:6379 said hunter2'); // 'redis://default:***@redis:6379 said ***'
 * ```
 */

/** What a secret is replaced with. */
export const MASK = '***';

/** `scheme://user:` then the password, up to the last `@` of the run (a password may contain `@`). */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#"'<>]*:)[^\s"'<>]*@/gi;
/** Query parameters that carry a password in connection strings (ioredis and pg both read `password`). */
const PASSWORD_PARAMETER = /([?&](?:password|passwd|pass|pwd)=)[^&#\s"'<>]*/gi;
/** How deep a logged object is walked; deeper values are replaced by a marker. */
const MAX_DEPTH = 6;
/** How many causes (and aggregated errors) of one error are kept. */
const MAX_CAUSE_DEPTH = 3;

/** An error as it may be logged: what went wrong, without anything attached to it. */
export interface SafeError {
  type: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: SafeError | string;
  errors?: SafeError[];
  /** Errors attached under other names (ioredis's `lastNodeError`: why a whole Cluster failed), made safe. */
  [attached: string]: SafeError | SafeError[] | string | number | undefined;
}

/**
 * Masks secrets in log output. `secrets` are the values the process knows to be secret (passwords from its
 * configuration); credentials written in URLs are masked whether known or not.
 */
export class Redactor {
  readonly #secrets: string[];

  constructor(secrets: Iterable<string> = []) {
    const all = new Set<string>();
    for (const secret of secrets) {
      if (!secret) continue;
      all.add(secret);
      // As it appears inside a URL.
      all.add(encodeURIComponent(secret));
    }
    // Longest first, so that a secret containing another is masked whole.
    this.#secrets = [...all].sort((a, b) => b.length - a.length);
  }

  /** `text` with URL credentials and every known secret masked. */
  text(text: string): string {
    let safe = text.replace(URL_CREDENTIALS, `$1${MASK}@`).replace(PASSWORD_PARAMETER, `$1${MASK}`);
    for (const secret of this.#secrets) if (safe.includes(secret)) safe = safe.split(secret).join(MASK);
    return safe;
  }

  /** A copy of `error` that is safe to log: {@link SafeError}, its texts masked. */
  error(error: unknown, depth = 0): SafeError {
    if (!(error instanceof Error)) return { type: typeof error, message: this.text(String(error)) };
    const safe: SafeError = { type: error.name, message: this.text(error.message) };
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') safe.code = this.text(code);
    else if (typeof code === 'number') safe.code = code;
    if (error.stack) safe.stack = this.text(error.stack);
    if (depth < MAX_CAUSE_DEPTH) {
      if (error.cause !== undefined) {
        safe.cause =
          error.cause instanceof Error ? this.error(error.cause, depth + 1) : this.text(String(error.cause));
      }
      // An AggregateError (a connection tried on several addresses) says nothing in its own message.
      if (error instanceof AggregateError && Array.isArray(error.errors)) {
        safe.errors = error.errors.slice(0, 10).map((inner: unknown) => this.error(inner, depth + 1));
      }
      // Other errors attached to this one say what went wrong too ("Failed to refresh slots cache" is
      // only true with its `lastNodeError`, a WRONGPASS): kept, made safe the same way. Anything else
      // attached (a command, a client's options, an input) is dropped.
      for (const [key, value] of Object.entries(error)) {
        if (value instanceof Error && !(key in safe)) safe[key] = this.error(value, depth + 1);
      }
    }
    return safe;
  }

  /**
   * `value` made safe to log, walked in depth: errors become {@link SafeError}, strings are masked, plain
   * data is copied. Class instances are walked like plain objects (a logged client would otherwise print
   * its options, password included).
   */
  value(value: unknown): unknown {
    return this.#walk(value, 0, new WeakSet());
  }

  #walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
    if (typeof value === 'string') return this.text(value);
    if (value === null || typeof value !== 'object') return value;
    if (value instanceof Error) return this.error(value);
    if (value instanceof Date) return value;
    if (seen.has(value)) return '[Circular]';
    if (depth >= MAX_DEPTH) return '[Object]';
    seen.add(value);
    try {
      if (Array.isArray(value)) return value.map((item) => this.#walk(item, depth + 1, seen));
      const copy: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) copy[key] = this.#walk(item, depth + 1, seen);
      return copy;
    } finally {
      seen.delete(value);
    }
  }
}

/**
 * A connection URL as it may be shown: its password, and any password query parameter, replaced by
 * {@link MASK}. Also takes a `REDIS_CLUSTER_NODES` list (`redis://user:password@host:port,host:port`), and
 * text that is no URL at all, which it masks as {@link Redactor.text} does.
 *
 * @example
 * ```ts
 * redactUrl('postgresql://app:hunter2@db:5432/app'); // 'postgresql://app:***@db:5432/app'
 * ```
 */
export function redactUrl(url: string): string {
  return new Redactor().text(url);
}

/**
 * The secrets a connection URL carries: its password (as written and decoded) and any password query
 * parameter. For `configSecrets` and tests.
 */
export function urlSecrets(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [];
  }
  const secrets: string[] = [];
  if (parsed.password) secrets.push(parsed.password, safeDecode(parsed.password));
  for (const [name, value] of parsed.searchParams) {
    if (/^(?:password|passwd|pass|pwd)$/i.test(name) && value) secrets.push(value);
  }
  return secrets;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
