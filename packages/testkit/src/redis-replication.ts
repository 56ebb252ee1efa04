// A private primary and replica for the durability tests and benchmark: two redis-server processes on free
// ports of 127.0.0.1, the replica following the primary, both killable on their own.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { type PgProxy, startPgProxy } from './pg-proxy.ts';
import { type RedisServer, startRedis } from './redis-server.ts';

export interface RedisReplication {
  primary: RedisServer;
  replica: RedisServer;
  /** `redis://` URL of the primary. */
  url: string;
  /** Kills both servers; safe to call twice or after a failed start. */
  stop(): Promise<void>;
}

export interface StartRedisReplicationOptions {
  /**
   * Where the replica reaches the primary, given the primary's port: a proxy in front of it, to stage a
   * partition between the two. @defaultValue the primary itself
   */
  via?: (primaryPort: number) => Promise<{ host: string; port: number }>;
}

/**
 * Starts a primary and one replica (no persistence unless `args` asks for it) and resolves once the replica's
 * link is up and its first copy done. Always `stop()` it.
 */
export async function startRedisReplication(
  args: string[] = [],
  options: StartRedisReplicationOptions = {},
): Promise<RedisReplication> {
  const common = ['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', ...args];
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.kill()));
  };
  try {
    const primary = await startRedis([...common, '--repl-diskless-sync-delay', '0']);
    servers.push(primary);
    const upstream = options.via
      ? await options.via(primary.port)
      : { host: '127.0.0.1', port: primary.port };
    const replica = await startRedis([...common, '--replicaof', upstream.host, String(upstream.port)]);
    servers.push(replica);
    const probe = new Redis({ port: replica.port, host: '127.0.0.1', lazyConnect: true });
    probe.on('error', () => {});
    try {
      await probe.connect();
      const deadline = Date.now() + 30_000;
      while (!/master_link_status:up/.test(await probe.info('replication'))) {
        if (Date.now() > deadline) throw new Error('the replica did not sync with its primary in 30 s');
        await sleep(50);
      }
    } finally {
      probe.disconnect();
    }
    return { primary, replica, url: `redis://127.0.0.1:${primary.port}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface ProxiedReplication {
  servers: RedisReplication;
  /** The replica's link to the primary: hold it back, freeze or cut it. */
  link: PgProxy;
  /** Closes the link, then kills both servers. */
  stop(): Promise<void>;
}

/**
 * A private primary and replica ({@link startRedisReplication}) whose replication link runs through a proxy,
 * since on loopback a replica holds a write before a client could look unless its link is held. Always `stop()`
 * it; if it does not start, what did is stopped before this rejects.
 */
export async function startProxiedReplication(): Promise<ProxiedReplication> {
  let link: PgProxy | undefined;
  let servers: RedisReplication | undefined;
  try {
    servers = await startRedisReplication([], {
      via: async (port) => {
        link = await startPgProxy({ host: '127.0.0.1', port });
        return link;
      },
    });
    assert.ok(link, 'the replica follows through the proxy');
    const started = { servers, link };
    return {
      ...started,
      async stop() {
        await started.link.close();
        await started.servers.stop();
      },
    };
  } catch (error) {
    await servers?.stop();
    await link?.close();
    throw error;
  }
}
