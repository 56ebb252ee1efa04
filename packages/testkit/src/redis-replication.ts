// A private primary and replica for the durability tests and benchmark: two redis-server processes on free
// ports of 127.0.0.1, the replica following the primary, both killable on their own.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
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
