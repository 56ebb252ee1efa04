/*
 * The defaults a record gets anew each time the cache creates one (see `ResolvedField.dynamicDefault`): what
 * Prisma Client would make for `now()`, `uuid()`, `uuid(7)` and `nanoid()`, since the cache inserts by raw SQL.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { DynamicDefault } from './resolve.js';

const NANOID_ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';

/** A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits; sorts by creation time. */
export function uuidV7(now = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A nanoid of `size` characters from nanoid's URL-safe alphabet (64 symbols: each byte's low 6 bits). */
export function nanoid(size = 21): string {
  const bytes = randomBytes(size);
  let id = '';
  for (const byte of bytes) id += NANOID_ALPHABET[byte & 63];
  return id;
}

/** A new value of a dynamic default, as a write would pass it. */
export function makeDefault(fallback: DynamicDefault): Date | string {
  if (fallback.name === 'now') return new Date();
  if (fallback.name === 'uuid') return fallback.version === 7 ? uuidV7() : randomUUID();
  return nanoid(fallback.size);
}
