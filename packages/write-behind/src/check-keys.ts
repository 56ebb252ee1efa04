import { ConfigurationError } from './errors.js';

/*
 * Refuses option names the library does not know, naming the closest one it does: a misspelled option
 * (`prefx`, `flush.windowMS`, `versionFeild`) would otherwise be ignored and its default used in silence.
 * Pure: each options module declares the keys of its levels as a `KeyShape` beside its interfaces
 * (`satisfies KeyShapeOf<...>` keeps the two in step) and calls `checkKeys` before it merges defaults.
 */

/**
 * The known keys of one level of an options object: `true` for a value that is not walked (a number, a
 * connection, an object of names the user chooses), a nested shape for an object whose keys are checked too.
 */
export interface KeyShape {
  readonly [key: string]: true | KeyShape;
}

/** A shape naming every key of `T`, no more and no fewer (use with `satisfies`). */
export type KeyShapeOf<T> = { readonly [K in keyof Required<T>]: true | KeyShape };

/**
 * Edit distance between `a` and `b` counting an insertion, a deletion, a substitution and a swap of two
 * neighbours as one edit each (optimal string alignment), so `versionFeild` is one edit from `versionField`.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  const at = (i: number, j: number) => d[i * cols + j] as number;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return at(rows - 1, cols - 1);
}

/**
 * The known name closest to `name`, or `undefined` when none is close enough to be a likely misspelling:
 * case is ignored first (`windowMS` → `windowMs`), then up to a third of the name's length in edits (at
 * least 2).
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const sameButCase = known.find((k) => k.toLowerCase() === lower);
  if (sameButCase !== undefined) return sameButCase;
  const limit = Math.max(2, Math.floor(name.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) {
      best = { name: candidate, distance };
    }
  }
  return best?.name;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Throws a {@link ConfigurationError} for the first key of `value` (and of its nested levels) that `shape`
 * does not know, naming its path and the closest known name: "`flush.windowMS` is not an option: did you
 * mean `windowMs`?". A nested level given as something other than an object is refused too (`undefined`
 * is its default). Values are not checked here: each options module checks its own.
 *
 * @param where what the options belong to, for the message (`'createWorker()'`, `'string()'`); empty for the
 *   cache's own options, whose paths speak for themselves.
 * @param path the path of `value` itself (`'entities.video'`), empty at the top.
 */
export function checkKeys(value: unknown, shape: KeyShape, where: string, path = ''): void {
  if (value === undefined) return;
  if (!isObject(value)) {
    throw new ConfigurationError(
      `${path ? `\`${path}\`` : 'options'}${where ? ` of ${where}` : ''} must be an object, got ${describeValue(value)}`,
    );
  }
  const known = Object.keys(shape);
  for (const key of Object.keys(value)) {
    const keyPath = path ? `${path}.${key}` : key;
    const sub = shape[key];
    if (sub === undefined) {
      const suggestion = closestName(key, known);
      throw new ConfigurationError(
        `\`${keyPath}\` is not an option${where ? ` of ${where}` : ''}` +
          (suggestion === undefined ? '' : `: did you mean \`${suggestion}\`?`) +
          ` (${path ? `${path} takes` : 'known'}: ${known.join(', ')})`,
      );
    }
    if (sub !== true) checkKeys(value[key], sub, where, keyPath);
  }
}

/**
 * `given` over `defaults`, one level deep, where a key given as `undefined` keeps its default (a spread
 * would let `{ windowMs: undefined }` replace it).
 */
export function withDefaults<T extends object>(defaults: T, given: Partial<T> | undefined): T {
  const merged = { ...defaults };
  if (given) {
    for (const [key, value] of Object.entries(given)) {
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
    }
  }
  return merged;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'an unknown class'}`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
