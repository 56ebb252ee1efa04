// A private Redis Sentinel setup for the failover tests: a primary, its replicas and three sentinels, each a
// redis-server process on a free port of 127.0.0.1. Short timeouts make a failover take a few seconds.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { type RedisServer, startRedis, withNode } from './redis-server.ts';

const HOST = '127.0.0.1';

export interface StartRedisSentinelOptions {
  /** Replicas of the primary. @defaultValue `2` */
  replicas?: number;
  /** How long the sentinels wait before they call the primary down. @defaultValue `1000` */
  downAfterMs?: number;
  /**
   * Where the replicas and the sentinels reach the first primary, given its port: a proxy in front of it, to
   * stage a partition between the primary and its replicas (see `PgProxy.freezeReplication`). The sentinels
   * then name the proxy as the primary, so clients reach it through the proxy too until a failover, and a
   * replica's view of its primary matches the sentinels' (they would otherwise point it at the primary itself).
   * @defaultValue the primary itself
   */
  via?: (primaryPort: number) => Promise<{ host: string; port: number }>;
}

export interface RedisSentinel {
  /** The name the sentinels monitor the primary under. */
  name: string;
  sentinels: { host: string; port: number }[];
  /** Every data node started, the first primary first; a killed one stays listed. */
  nodes: RedisServer[];
  /** The port of the primary the sentinels name now (at first the `via` proxy's, when there is one). */
  primaryPort(): Promise<number>;
  /** Resolves once the sentinels name a primary other than `port` and it answers as one; throws after `timeoutMs`. */
  waitFailover(port: number, timeoutMs?: number): Promise<number>;
  /** An ioredis client through the sentinels; every option given wins. */
  connect(options?: RedisOptions): Redis;
  /** Kills every process and removes the sentinels' files; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts a primary, `replicas` replicas and three sentinels (quorum 2), and resolves once all agree. */
export async function startRedisSentinel(options: StartRedisSentinelOptions = {}): Promise<RedisSentinel> {
  const { replicas = 2, downAfterMs = 1000, via } = options;
  const name = 'wb-primary';
  const common = ['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'];
  const nodes: RedisServer[] = [];
  const sentinelServers: RedisServer[] = [];
  const sentinels: { host: string; port: number }[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'wb-sentinel-'));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all([...nodes, ...sentinelServers].map((server) => server.kill()));
    await rm(dir, { recursive: true, force: true });
  };

  const primaryPort = async (): Promise<number> => {
    let lastError: unknown;
    for (const sentinel of sentinels) {
      try {
        const reply = (await withNode(sentinel.port, (r) =>
          r.call('SENTINEL', 'get-master-addr-by-name', name),
        )) as [string, string] | null;
        if (reply) return Number(reply[1]);
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`no sentinel named the primary: ${String(lastError)}`);
  };

  try {
    const primary = await startRedis([...common, '--repl-diskless-sync-delay', '0']);
    nodes.push(primary);
    const monitored = via ? await via(primary.port) : { host: HOST, port: primary.port };
    for (let i = 0; i < replicas; i++) {
      nodes.push(await startRedis([...common, '--replicaof', monitored.host, String(monitored.port)]));
    }
    for (let i = 0; i < 3; i++) {
      const file = join(dir, `sentinel-${i}.conf`);
      await writeFile(
        file,
        [
          `sentinel monitor ${name} ${monitored.host} ${monitored.port} 2`,
          `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
          `sentinel failover-timeout ${name} ${downAfterMs * 5}`,
          `sentinel parallel-syncs ${name} ${replicas}`,
          '',
        ].join('\n'),
      );
      const server = await startRedis(['--sentinel', '--dir', dir], { configFile: file });
      sentinelServers.push(server);
      sentinels.push({ host: HOST, port: server.port });
    }
    // Until every sentinel knows every replica and the other sentinels, a failover might not happen.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const views = await Promise.all(
        sentinels.map((s) =>
          withNode(s.port, async (r) => {
            const master = (await r.call('SENTINEL', 'master', name)) as string[];
            const field = (key: string) => Number(master[master.indexOf(key) + 1]);
            return { replicas: field('num-slaves'), sentinels: field('num-other-sentinels') };
          }).catch(() => ({ replicas: 0, sentinels: 0 })),
        ),
      );
      if (views.every((v) => v.replicas >= replicas && v.sentinels >= 2)) break;
      if (Date.now() > deadline)
        throw new Error(`sentinels not in agreement after 30 s: ${JSON.stringify(views)}`);
      await sleep(100);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    name,
    sentinels,
    nodes,
    primaryPort,
    async waitFailover(port, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = await primaryPort().catch(() => port);
        if (now !== port) {
          const role = await withNode(now, (r) => r.role()).catch(() => undefined);
          if (Array.isArray(role) && role[0] === 'master') return now;
        }
        if (Date.now() > deadline)
          throw new Error(`no replica took over from ${port} within ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    connect(options = {}) {
      return new Redis({ sentinels, name, ...options });
    },
    stop,
  };
}
