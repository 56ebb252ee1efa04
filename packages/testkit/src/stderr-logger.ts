import type { Logger } from '@write-behind/core';

/**
 * A logger for scripts and worker processes: warnings and errors go to stderr as `[<tag> warn] msg {json}`,
 * so they stand out from progress lines; info is dropped. `indent` goes before each line.
 */
export function stderrLogger(tag: string, indent = ''): Logger {
  const line = (level: string) => (obj: object, msg?: string) =>
    process.stderr.write(`${indent}[${tag} ${level}] ${msg ?? ''} ${safeJson(obj)}\n`);
  return { info: () => {}, warn: line('warn'), error: line('error') };
}

/** JSON of a log object, errors as their message; never throws (a cycle gives `String(value)`). */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_, v: unknown) => (v instanceof Error ? v.message : v));
  } catch {
    return String(value);
  }
}
