/**
 * The apps' Redis: one server at `REDIS_URL`, or a Redis Cluster whose seed nodes `REDIS_CLUSTER_NODES`
 * lists. Parsing is pure; {@link connectRedis} is the only part that opens anything.
 *
 * @example
 * ```ts
 * parseClusterNodes('rediss://:secret@redis-1:6379,redis-2:6379');
 * // { nodes: [{ host: 'redis-1', port: 6379 }, { host: 'redis-2', port: 6379 }], password: 'secret', tls: true }
 * ```
 */
import { Cluster, type ClusterOptions } from 'ioredis';
import type { VariableSpec } from './config.ts';

export interface ClusterNode {
  host: string;
  port: number;
}

/** The parsed value of `REDIS_CLUSTER_NODES`. */
export interface ClusterNodes {
  /** Seeds: ioredis asks them for the slot map and finds every other node from it. */
  nodes: ClusterNode[];
  /** ACL user for every node (`AUTH user password`); unset with a password alone means `default`. */
  username?: string;
  password?: string;
  /** `rediss://` in front of the list: every node is reached over TLS. */
  tls: boolean;
}

const EXAMPLE = 'redis-1:6379,redis-2:6379,redis-3:6379';
const SCHEME = /^(rediss?):\/\//i;
/** A host name or IPv4 address, or an IPv6 address in brackets. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

/** Thrown by {@link parseClusterNodes}: the message says what was expected and which seed is wrong. */
export class ClusterNodesError extends Error {
  constructor(problem: string) {
    super(
      `comma-separated host:port seeds of the cluster, like ${EXAMPLE} (optionally after redis:// or ` +
        `rediss:// for TLS, and user:password@); ${problem}`,
    );
    this.name = 'ClusterNodesError';
  }
}

/**
 * Reads `[redis[s]://[[user]:password@]]host:port[,host:port...]`: the seeds, and the credentials and TLS
 * every node shares (they are written as in `REDIS_URL`, percent-encoded). Never quotes the credentials.
 * @throws {@link ClusterNodesError} naming the seed that is wrong.
 */
export function parseClusterNodes(raw: string): ClusterNodes {
  let rest = raw.trim();
  const scheme = SCHEME.exec(rest);
  const tls = scheme?.[1]?.toLowerCase() === 'rediss';
  let username: string | undefined;
  let password: string | undefined;
  if (scheme) {
    rest = rest.slice(scheme[0].length);
    // The last `@` ends the credentials: a password may contain `@` (percent-encoded or not), a host cannot.
    const at = rest.lastIndexOf('@');
    if (at >= 0) {
      const userInfo = rest.slice(0, at);
      rest = rest.slice(at + 1);
      const colon = userInfo.indexOf(':');
      const user = colon >= 0 ? userInfo.slice(0, colon) : userInfo;
      const secret = colon >= 0 ? userInfo.slice(colon + 1) : '';
      try {
        if (user) username = decodeURIComponent(user);
        if (secret) password = decodeURIComponent(secret);
      } catch {
        throw new ClusterNodesError('the credentials are not valid percent-encoding');
      }
      if (username !== undefined && password === undefined) {
        throw new ClusterNodesError('a user needs a password (user:password@)');
      }
    }
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) {
    throw new ClusterNodesError(`only redis:// and rediss:// are accepted`);
  }
  const seeds = rest.split(',').map((seed) => seed.trim());
  if (seeds.every((seed) => seed === '')) throw new ClusterNodesError('no seed is given');
  const nodes = seeds.map((seed): ClusterNode => {
    if (seed === '') throw new ClusterNodesError('a seed is empty (two commas in a row?)');
    // Credentials without the scheme in front: the seed holds a password, so it must not be quoted.
    if (seed.includes('@')) {
      throw new ClusterNodesError(
        'credentials (user:password@) go after redis:// or rediss:// in front of the list',
      );
    }
    const colon = seed.lastIndexOf(':');
    const host = colon > 0 ? seed.slice(0, colon) : seed;
    const portText = colon > 0 ? seed.slice(colon + 1) : '';
    if (colon <= 0 || host.endsWith(':')) {
      throw new ClusterNodesError(`${JSON.stringify(seed)} has no port`);
    }
    if (!HOST.test(host))
      throw new ClusterNodesError(`${JSON.stringify(host)} is not a host name or address`);
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
    if (!(port >= 1 && port <= 65_535)) {
      throw new ClusterNodesError(`the port of ${JSON.stringify(seed)} is not a number from 1 to 65535`);
    }
    return { host: host.replace(/^\[|\]$/g, ''), port };
  });
  return {
    nodes,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    tls,
  };
}

/**
 * A config variable holding cluster seeds (see {@link parseClusterNodes}). Secret: the list may carry a
 * password, so an error names the wrong seed but never echoes the whole value.
 */
export function clusterNodes(options: { description: string }) {
  return {
    ...options,
    secret: true,
    parse: parseClusterNodes,
    secrets: (value: ClusterNodes) => (value.password === undefined ? [] : [value.password]),
  } satisfies VariableSpec<ClusterNodes>;
}

/**
 * The ioredis Cluster options for `cluster`: its credentials and TLS on every node, and the library's
 * retry bound (`maxRetriesPerRequest`) so that a write fails fast while the cluster is down, as it does for
 * a connection the library opens from a URL. Pure, for tests; {@link connectRedis} uses it.
 */
export function clusterOptions(cluster: ClusterNodes, maxRetriesPerRequest: number): ClusterOptions {
  return {
    redisOptions: {
      maxRetriesPerRequest,
      ...(cluster.username === undefined ? {} : { username: cluster.username }),
      ...(cluster.password === undefined ? {} : { password: cluster.password }),
      ...(cluster.tls ? { tls: {} } : {}),
    },
    // ioredis resolves host names to addresses before it connects; over TLS the certificate names the
    // host, so keep the name (ioredis's advice for TLS clusters).
    ...(cluster.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
  };
}

/** What {@link connectRedis} gives the cache, and whether the caller must close it. */
export interface RedisConnection {
  /** A URL (the library opens and closes the connection) or a Cluster (the caller closes it). */
  redis: string | Cluster;
  /** Ends the Cluster connection; a no-op for a URL, which the cache closes itself. */
  close(): Promise<void>;
}

/**
 * The Redis of a process: a Cluster on `REDIS_CLUSTER_NODES` when it is set (it wins over `REDIS_URL`),
 * else the `REDIS_URL` string for the library to open. Connection errors of a Cluster go to `onError`
 * (ioredis would print them itself otherwise).
 */
export function connectRedis(
  config: { REDIS_URL: string; REDIS_CLUSTER_NODES?: ClusterNodes | undefined },
  { maxRetriesPerRequest, onError }: { maxRetriesPerRequest: number; onError: (error: Error) => void },
): RedisConnection {
  const cluster = config.REDIS_CLUSTER_NODES;
  if (!cluster) return { redis: config.REDIS_URL, close: async () => {} };
  const redis = new Cluster(cluster.nodes, clusterOptions(cluster, maxRetriesPerRequest));
  redis.on('error', onError);
  return {
    redis,
    async close() {
      // QUIT lets replies drain; a cluster that never connected would wait for ever, so cut it instead.
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}
