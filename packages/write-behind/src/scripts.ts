import { readFileSync } from 'node:fs';
import type { Cluster, Redis, Result } from 'ioredis';

/*
 * The Lua scripts, loaded once and registered on a connection with `defineCommand`, which runs them by
 * EVALSHA and falls back to EVAL after a script flush. Each file opens with a header listing KEYS, ARGV and
 * the reply. A file named `name-N.lua` takes N keys; `name.lua` takes a variable number.
 */
const SCRIPTS = {
  wbWrite: 'write.lua',
  wbFill: 'fill-1.lua',
  wbSnapshot: 'snapshot.lua',
  wbAck: 'ack.lua',
  wbSweep: 'sweep-2.lua',
} as const;

export type WriteReply = [
  status: number,
  value?: number | string | string[],
  version?: number,
  newlyDirty?: number,
];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    wbWrite(numKeys: number, dirtyKey: string, ...rest: (string | number)[]): Result<WriteReply[], Context>;
    wbFill(dataKey: string, ...args: (string | number)[]): Result<string[], Context>;
    wbSnapshotBuffer(numKeys: number, ...dataKeys: string[]): Result<Buffer, Context>;
    wbAck(
      numKeys: number,
      dirtyKey: string,
      failedKey: string,
      ...rest: (string | number)[]
    ): Result<string, Context>;
    wbSweep(dirtyKey: string, failedKey: string, ...args: (string | number)[]): Result<string[], Context>;
  }
}

let sources: Record<keyof typeof SCRIPTS, string> | undefined;

function load(): Record<keyof typeof SCRIPTS, string> {
  sources ??= Object.fromEntries(
    Object.entries(SCRIPTS).map(([name, file]) => [
      name,
      readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8'),
    ]),
  ) as Record<keyof typeof SCRIPTS, string>;
  return sources;
}

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
export function pairsToMap(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i] as string, flat[i + 1] as string);
  return map;
}
