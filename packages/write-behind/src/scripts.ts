import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis, Result } from 'ioredis';

/*
 * The Lua scripts, loaded once and registered on a connection with `defineCommand`, which runs them by
 * EVALSHA and falls back to EVAL after a script flush. Each file opens with a header listing KEYS, ARGV and
 * the reply. A file named `name-N.lua` takes N keys; `name.lua` takes a variable number. Code two scripts
 * share lives in `lua/includes/` and is pulled in by a `--- @include "name"` line, as BullMQ does.
 */
const SCRIPTS = {
  wbWrite: 'write.lua',
  wbFill: 'fill.lua',
  wbRead: 'read-2.lua',
  wbSnapshot: 'snapshot.lua',
  wbAck: 'ack.lua',
  wbSweep: 'sweep-2.lua',
  wbJobId: 'job-id-1.lua',
  wbRankingTop: 'ranking-top-1.lua',
  wbRankingRank: 'ranking-rank-1.lua',
  wbRankingBuild: 'ranking-build.lua',
  wbActivityAdd: 'activity-add-1.lua',
  wbOperatorDiscard: 'discard.lua',
} as const;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wbWrite(numKeys: number, dirtyKey: string, ...rest: (string | number)[]): Result<unknown[], Context>;
    wbFill(numKeys: number, dataKey: string, ...rest: (string | number)[]): Result<unknown[], Context>;
    wbRead(dataKey: string, cleanKey: string, now: number): Result<string[], Context>;
    wbSnapshotBuffer(numKeys: number, ...keysThenTakes: (string | number)[]): Result<Buffer[][], Context>;
    wbAck(
      numKeys: number,
      dirtyKey: string,
      failedKey: string,
      ...rest: (string | number)[]
    ): Result<string, Context>;
    wbSweep(dirtyKey: string, failedKey: string, ...args: (string | number)[]): Result<string[], Context>;
    wbJobId(dataKey: string, prefixLength: number): Result<string | null, Context>;
    wbRankingTop(rankingKey: string, n: number): Result<[0 | 1, string[]] | null, Context>;
    wbRankingRank(rankingKey: string, member: string, score: string): Result<(number | string)[], Context>;
    wbRankingBuild(
      numKeys: number,
      rankingKey: string,
      ...rest: string[]
    ): Result<number[] | number, Context>;
    wbActivityAdd(key: string, ...fieldsAndAmounts: (string | number)[]): Result<number, Context>;
    wbOperatorDiscard(numKeys: number, ...keysThenArgs: (string | number)[]): Result<unknown[], Context>;
  }
}

const INCLUDE = /^--- @include "([a-z0-9-]+)"$/gm;

/**
 * Replaces each `--- @include "name"` line with `includes/name.lua` (read by `read`), each include at most
 * once per script, recursively. Pure apart from `read`.
 */
export function resolveIncludes(
  source: string,
  read: (name: string) => string,
  seen = new Set<string>(),
): string {
  return source.replace(INCLUDE, (_line, name: string) => {
    if (seen.has(name)) return '';
    seen.add(name);
    return resolveIncludes(read(name).trimEnd(), read, seen);
  });
}

let sources: Record<keyof typeof SCRIPTS, string> | undefined;

function load(): Record<keyof typeof SCRIPTS, string> {
  const dir = new URL('./lua/', import.meta.url);
  const read = (path: string) => readFileSync(new URL(path, dir), 'utf8');
  sources ??= Object.fromEntries(
    Object.entries(SCRIPTS).map(([name, file]) => [
      name,
      resolveIncludes(read(file), (include) => read(`includes/${include}.lua`)),
    ]),
  ) as Record<keyof typeof SCRIPTS, string>;
  return sources;
}

/** A script's source with its includes resolved (tests read the constants the Lua declares). */
export function scriptSource(name: keyof typeof SCRIPTS): string {
  return load()[name];
}

/** A script's SHA1, as EVALSHA names it. */
export function scriptSha(name: keyof typeof SCRIPTS): string {
  shas[name] ??= createHash('sha1').update(scriptSource(name)).digest('hex');
  return shas[name];
}
const shas: Partial<Record<keyof typeof SCRIPTS, string>> = {};

const registered = new WeakSet<Redis | Cluster>();

/** Registers the scripts on a connection (idempotent). */
export function defineScripts(redis: Redis | Cluster): void {
  if (registered.has(redis)) return;
  for (const [name, source] of Object.entries(load())) {
    const file = SCRIPTS[name as keyof typeof SCRIPTS];
    const match = /-(\d+)\.lua$/.exec(file);
    redis.defineCommand(name, match ? { lua: source, numberOfKeys: Number(match[1]) } : { lua: source });
  }
  registered.add(redis);
}

/** Turns a flat HGETALL-style list into a map. */
export function pairsToMap(flat: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i] as string, flat[i + 1] as string);
  return map;
}
