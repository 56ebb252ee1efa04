// How many acknowledged writes a Redis crash loses: `node --import tsx scripts/chaos/redis-durability.ts`.
//
// Starts a Redis of its own (redis-server on a free port, a temporary --dir), drives acknowledged increments
// through the library (each acknowledgement timestamped), SIGKILLs Redis under load, restarts it on the same
// directory and compares every key with the model. Twice: with AOF (`appendfsync everysec`) and without
// persistence (`--appendonly no --save ""`). No flush worker runs, so PostgreSQL holds none of it: this
// measures Redis alone, the window in which an acknowledged write exists only in Redis.
//
// Flags: --load 5s  --clients 16  --keys 500  --json
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { createWriteBehind, type LoadedKey, type Store } from '@write-behind/core';
import { dataKey, shardKeys } from '@write-behind/core/internal';
import { entities, startRedis, type TestEntities } from '@write-behind/testkit';
import { parseDuration, parseNumber } from '@write-behind/testkit/chaos';
import { Redis } from 'ioredis';
import { readFlags } from '../lib/command-line.ts';

export interface DurabilityOptions {
  loadMs: number;
  clients: number;
  keys: number;
}

export interface DurabilityResult {
  mode: string;
  redisArgs: string[];
  acknowledged: number;
  ackRate: number;
  lost: number;
  keysWithLoss: number;
  /** Oldest lost acknowledgement, in ms before the SIGKILL (0 when nothing was lost). */
  lossReachMs: number;
  /** Newest lost acknowledgement, in ms before the SIGKILL (negative: acknowledged while being killed). */
  newestLossMs: number;
  restartMs: number;
  /** Keys whose value in Redis after the restart is above what was acknowledged (must be 0). */
  ahead: number;
}

/** A store with nothing in it: every key is new, and nothing is flushed (no worker runs). */
const emptyStore: Store = {
  async verify() {},
  async load(_entity, ids) {
    return new Map<string, LoadedKey>(ids.map((id) => [id, { version: 0 }]));
  },
  async upsert() {},
  async delete() {},
  async purgeTombstones() {
    return 0;
  },
  isUnavailable: () => false,
};

async function measure(mode: string, persistence: string[], o: DurabilityOptions): Promise<DurabilityResult> {
  const dir = mkdtempSync(join(tmpdir(), 'wb-durability-'));
  const redisArgs = [...persistence, '--dir', dir];
  let redis = await startRedis(redisArgs);
  const port = redis.port;
  const prefix = 'dur';
  const cache = createWriteBehind<TestEntities>({
    redis: `redis://127.0.0.1:${port}`,
    entities,
    prefix,
    store: emptyStore,
    logger: { info() {}, warn() {}, error() {} },
  });
  // ackTimes[k][v - 1]: when the increment that made key k reach v was acknowledged.
  const ackTimes: number[][] = Array.from({ length: o.keys }, () => []);
  let stop = false;
  let acknowledged = 0;
  const start = Date.now();
  const loops = Array.from({ length: o.clients }, async (_, c) => {
    // Each client owns its keys, so acknowledgements of one key arrive in the order Redis applied them.
    const mine = Array.from({ length: o.keys }, (_, k) => k).filter((k) => k % o.clients === c);
    for (let n = 0; !stop && mine.length > 0; n++) {
      const k = mine[n % mine.length] as number;
      try {
        const value = await cache.increment('video', `k${k}`, 'likes', 1);
        (ackTimes[k] as number[])[value - 1] = Date.now();
        acknowledged++;
      } catch {
        // Not acknowledged (Redis is gone).
        if (stop) return;
        await sleep(10);
      }
    }
  });
  await sleep(o.loadMs);
  const killedAt = Date.now();
  await redis.kill();
  const loadMs = killedAt - start;
  await sleep(200);
  stop = true;
  await Promise.all(loops);
  await cache.close().catch(() => {});

  const restartStart = Date.now();
  redis = await startRedis(redisArgs);
  const restartMs = Date.now() - restartStart;
  // Same port? Not guaranteed: read through a client of the new server.
  const reader = new Redis({ port: redis.port, host: '127.0.0.1' });
  const shard = shardKeys(prefix, 0, 1);
  let lost = 0;
  let keysWithLoss = 0;
  let oldestLost = Number.POSITIVE_INFINITY;
  let newestLost = Number.NEGATIVE_INFINITY;
  let ahead = 0;
  for (let k = 0; k < o.keys; k++) {
    const times = ackTimes[k] as number[];
    const model = times.length;
    const stored = Number((await reader.hget(dataKey(shard, 'video', `k${k}`), 'likes')) ?? 0);
    if (stored > model) ahead++;
    if (stored < model) {
      lost += model - stored;
      keysWithLoss++;
      for (let v = stored; v < model; v++) {
        const t = times[v];
        if (t === undefined) continue;
        oldestLost = Math.min(oldestLost, t);
        newestLost = Math.max(newestLost, t);
      }
    }
  }
  reader.disconnect();
  await redis.kill();
  rmSync(dir, { recursive: true, force: true });
  void port;
  return {
    mode,
    redisArgs: persistence,
    acknowledged,
    ackRate: Math.round((acknowledged / loadMs) * 1000),
    lost,
    keysWithLoss,
    lossReachMs: lost > 0 ? killedAt - oldestLost : 0,
    newestLossMs: lost > 0 ? killedAt - newestLost : 0,
    restartMs,
    ahead,
  };
}

export async function runDurability(partial: Partial<DurabilityOptions> = {}): Promise<DurabilityResult[]> {
  const o: DurabilityOptions = { loadMs: 5000, clients: 16, keys: 500, ...partial };
  return [
    await measure('AOF everysec', ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''], o),
    await measure('AOF always', ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], o),
    await measure('no persistence', ['--appendonly', 'no', '--save', ''], o),
  ];
}

export function formatDurability(results: DurabilityResult[]): string {
  return results
    .map(
      (r) =>
        `${r.mode.padEnd(15)} acknowledged ${r.acknowledged} (${r.ackRate}/s), lost ${r.lost} ` +
        `(${((r.lost / Math.max(1, r.acknowledged)) * 100).toFixed(2)}%, ${r.keysWithLoss} keys), ` +
        `reaching ${r.lossReachMs} ms before the kill (newest ${r.newestLossMs} ms), restart ${r.restartMs} ms, ahead ${r.ahead}`,
    )
    .join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { options, flags } = readFlags<DurabilityOptions, 'json'>(
    { load: ['loadMs', parseDuration], clients: ['clients', parseNumber], keys: ['keys', parseNumber] },
    ['json'],
  );
  const results = await runDurability(options);
  process.stdout.write(
    flags.json ? `${JSON.stringify(results, null, 2)}\n` : `${formatDurability(results)}\n`,
  );
  process.exit(0);
}
