// For tests that prove no secret leaks: a logger that keeps every line as a log shipper would print it, and
// an assertion that none of a list of secrets appears in a text.
import assert from 'node:assert/strict';
import type { Logger } from '@write-behind/core';

/** Everything a log shipper could print: messages, stacks, causes, nested objects. */
export function flatten(value: unknown, depth = 0): string {
  if (depth > 4 || value === null || value === undefined) return String(value);
  if (value instanceof Error) {
    const extra = Object.entries(value).map(([k, v]) => `${k}=${flatten(v, depth + 1)}`);
    return `${value.name}: ${value.message} ${value.stack ?? ''} ${extra.join(' ')} cause=${flatten(value.cause, depth + 1)}`;
  }
  if (typeof value === 'object') {
    try {
      return JSON.stringify(value);
    } catch {
      return Object.entries(value as object)
        .map(([k, v]) => `${k}=${flatten(v, depth + 1)}`)
        .join(' ');
    }
  }
  return String(value);
}

/** A logger that records each line, flattened, in `lines`. */
export function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const record = (obj: unknown, msg = '') => {
    lines.push(`${msg} ${flatten(obj)}`);
  };
  return { logger: { info: record, warn: record, error: record }, lines };
}

/** Fails, quoting the start of `text`, when `text` contains any of `secrets`. */
export function assertNoSecret(text: string, where: string, secrets: readonly string[]): void {
  for (const secret of secrets)
    assert.ok(!text.includes(secret), `${where} contains a password: ${text.slice(0, 500)}`);
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not settle in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** What `promise` rejects with (`undefined` if it resolves), failing after `ms`. */
export function rejectionOf(promise: Promise<unknown>, ms: number, what: string): Promise<unknown> {
  return withTimeout(
    promise.then(
      () => undefined,
      (error: unknown) => error,
    ),
    ms,
    what,
  );
}
