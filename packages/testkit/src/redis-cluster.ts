// A private Redis Cluster for the tests and benchmark cases that need one: masters and replicas as
// redis-server processes on free ports of 127.0.0.1, each in a temporary directory of its own, joined by
// `redis-cli --cluster create`. A short node timeout makes a failover take a second or two, not fifteen.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Cluster, type ClusterOptions } from 'ioredis';
import { freePort, type RedisServer, startRedis, withNode } from './redis-server.ts';

const run = promisify(execFile);
const HOST = '127.0.0.1';
const SLOTS = 16_384;

export interface StartRedisClusterOptions {
  /** Masters; the 16,384 slots are split evenly between them. @defaultValue `3` */
  masters?: number;
  /** Replicas of each master. @defaultValue `1` */
  replicasPerMaster?: number;
  /**
   * `cluster-node-timeout`: how long a node may be unreachable before it is failed over. The time a failover
   * takes is about twice this. @defaultValue `1000`
   */
  nodeTimeoutMs?: number;
  /** More redis-server arguments for every node (`--maxmemory-policy` and the like). */
  args?: string[];
  /** How long to wait for the cluster to form. @defaultValue `30000` */
  timeoutMs?: number;
}

export interface ClusterNodeInfo {
  host: string;
  port: number;
  /** The role it was given at creation; a failover swaps roles, which {@link RedisCluster.masters} sees. */
  role: 'master' | 'replica';
  server: RedisServer;
}

export interface ClusterMaster {
  port: number;
  /** The slot ranges it serves, inclusive. */
  slots: [number, number][];
  /** The ports of its replicas that are alive and known to the cluster. */
  replicas: number[];
}

export interface RedisCluster {
  /** Every node started, masters first; a killed node stays listed. */
  nodes: ClusterNodeInfo[];
  /** `host:port` of every node, for `REDIS_CLUSTER_NODES` and the like. */
  startupNodes: { host: string; port: number }[];
  /** The masters as the cluster sees them now (`CLUSTER SLOTS` asked of a live node), ordered by first slot. */
  masters(): Promise<ClusterMaster[]>;
  /** The master that serves `slot` now. */
  masterOf(slot: number): Promise<ClusterMaster>;
  /** SIGKILLs the node on `port` and waits until the process is gone. */
  kill(port: number): Promise<void>;
  /**
   * SIGKILLs the master that serves a slot (`{ slot }`) or the `index`-th master by first slot (`{ index }`);
   * resolves to its port. Call {@link waitHealthy} to wait for its replica to take over.
   */
  killMaster(which: { slot: number } | { index: number }): Promise<number>;
  /**
   * Resolves once every live node says `cluster_state:ok` with all slots served by live masters, and every
   * live replica is in sync with its master; throws after `timeoutMs` (default 30 s).
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /**
   * An ioredis Cluster on these nodes. Defaults suit tests: retries on failover and CLUSTERDOWN every 100 ms,
   * and every option given here wins.
   */
  connect(options?: ClusterOptions): Cluster;
  /** Kills every node and removes their directories; safe to call twice or after a failed start. */
  stop(): Promise<void>;
}

/**
 * Starts a Redis Cluster of `masters` masters with `replicasPerMaster` replicas each and resolves once it
 * is healthy. Always `stop()` it (in a `finally` or an `after` hook).
 *
 * @example
 * const cluster = await startRedisCluster();
 * const redis = cluster.connect();
 * try { ... } finally { redis.disconnect(); await cluster.stop(); }
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const { masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 1000, args = [], timeoutMs = 30_000 } = options;
  const nodes: ClusterNodeInfo[] = [];
  const dirs: string[] = [];
  let stopped = false;

  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((node) => node.server.kill()));
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }

  const killed = new Set<number>();
  const alive = () => nodes.filter((node) => node.server.process.exitCode === null && !killed.has(node.port));

  async function masterList(): Promise<ClusterMaster[]> {
    let lastError: unknown;
    for (const node of alive()) {
      try {
        const reply = await withNode(node.port, (r) => r.cluster('SLOTS'));
        const byPort = new Map<number, ClusterMaster>();
        for (const [first, last, master, ...replicas] of reply) {
          if (!master) continue;
          const port = Number(master[1]);
          const entry = byPort.get(port) ?? { port, slots: [], replicas: [] };
          entry.slots.push([first, last]);
          for (const replica of replicas) {
            const replicaPort = Number(replica[1]);
            if (!entry.replicas.includes(replicaPort)) entry.replicas.push(replicaPort);
          }
          byPort.set(port, entry);
        }
        const list = [...byPort.values()];
        for (const master of list) master.slots.sort((a, b) => a[0] - b[0]);
        return list.sort((a, b) => (a.slots[0]?.[0] ?? 0) - (b.slots[0]?.[0] ?? 0));
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error(`no live cluster node answered CLUSTER SLOTS: ${String(lastError)}`);
  }

  async function healthy(): Promise<boolean> {
    const live = alive();
    const infos = await Promise.all(
      live.map((node) => withNode(node.port, (r) => r.cluster('INFO')).catch(() => '')),
    );
    if (!infos.every((info) => /cluster_state:ok/.test(info) && info.includes(`cluster_slots_ok:${SLOTS}`)))
      return false;
    const livePorts = new Set(live.map((node) => node.port));
    const list = await masterList().catch(() => []);
    const served = list.reduce((sum, m) => sum + m.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0);
    if (served !== SLOTS || !list.every((master) => livePorts.has(master.port))) return false;
    // A replica still loading its first copy cannot take over; wait for every link to be up.
    const replication = await Promise.all(
      live.map((node) => withNode(node.port, (r) => r.info('replication')).catch(() => '')),
    );
    return replication.every((info) => !/role:slave/.test(info) || /master_link_status:up/.test(info));
  }

  async function kill(port: number): Promise<void> {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no cluster node on port ${port}`);
    killed.add(port);
    await node.server.kill();
  }

  async function waitHealthy(waitMs = 30_000): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (!(await healthy())) {
      if (Date.now() > deadline) {
        const state = await Promise.all(
          alive().map((node) =>
            withNode(node.port, (r) => r.cluster('NODES')).catch((e) => `${node.port}: ${String(e)}`),
          ),
        );
        throw new Error(`Redis Cluster not healthy after ${waitMs} ms; CLUSTER NODES:\n${state.join('\n')}`);
      }
      await sleep(100);
    }
  }

  try {
    const total = masters * (1 + replicasPerMaster);
    // A port found free can be taken before redis-server binds it (by a sibling node's bus port, or another
    // test's server): such a start is tried again on new ports.
    const startNode = async (i: number, attemptsLeft = 4): Promise<void> => {
      try {
        await startNodeOnce(i);
      } catch (error) {
        if (attemptsLeft === 0 || !/Failed listening|Address already in use/.test(String(error))) throw error;
        await startNode(i, attemptsLeft - 1);
      }
    };
    const startNodeOnce = async (i: number) => {
      const dir = await mkdtemp(join(tmpdir(), 'wb-cluster-'));
      dirs.push(dir);
      // An explicit bus port: the default (port + 10000) can fall beyond 65535 for an ephemeral port.
      const busPort = await freePort();
      const server = await startRedis([
        ...['--cluster-enabled', 'yes', '--cluster-port', String(busPort)],
        ...['--cluster-config-file', 'nodes.conf', '--dir', dir],
        ...['--cluster-node-timeout', String(nodeTimeoutMs)],
        // A replica may always take over, however long it has been cut off from its master.
        ...['--cluster-replica-validity-factor', '0'],
        ...['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
        // A replica's first copy starts at once rather than after the default 5 s wait for more replicas.
        ...['--repl-diskless-sync-delay', '0'],
        // CLUSTER SLOTS lists a replica only once its offset is above 0, which takes the master's first PING.
        ...['--repl-ping-replica-period', '1'],
        ...args,
      ]);
      nodes[i] = { host: HOST, port: server.port, role: i < masters ? 'master' : 'replica', server };
    };
    const started = await Promise.allSettled(Array.from({ length: total }, (_, i) => startNode(i)));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    // With every node on one host, redis-cli makes the first `masters` listed the masters.
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `${HOST}:${node.port}`),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      { timeout: timeoutMs },
    );
    await waitHealthy(timeoutMs);
    // Until gossip has told every node of every replica, a master killed now might not be failed over.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const list = await masterList();
      if (list.every((master) => master.replicas.length >= replicasPerMaster)) break;
      if (Date.now() > deadline) {
        const views = await Promise.all(
          alive().map((node) =>
            withNode(node.port, (r) => r.cluster('NODES')).catch((e) => `${node.port}: ${String(e)}`),
          ),
        );
        throw new Error(
          `Redis Cluster replicas not known after ${timeoutMs} ms: ${JSON.stringify(list)}; CLUSTER NODES:\n${views.join('\n')}`,
        );
      }
      await sleep(100);
    }
    // Record the roles as the cluster made them, whatever redis-cli's placement rule.
    const masterPorts = new Set((await masterList()).map((master) => master.port));
    for (const node of nodes) node.role = masterPorts.has(node.port) ? 'master' : 'replica';
    nodes.sort((a, b) => Number(b.role === 'master') - Number(a.role === 'master'));
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    nodes,
    startupNodes: nodes.map((node) => ({ host: node.host, port: node.port })),
    masters: masterList,
    async masterOf(slot) {
      const master = (await masterList()).find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b));
      if (!master) throw new Error(`no master serves slot ${slot}`);
      return master;
    },
    kill,
    async killMaster(which) {
      const list = await masterList();
      const master =
        'slot' in which
          ? list.find((m) => m.slots.some(([a, b]) => which.slot >= a && which.slot <= b))
          : list[which.index];
      if (!master) throw new Error(`no master for ${JSON.stringify(which)}`);
      await kill(master.port);
      return master.port;
    },
    waitHealthy,
    connect(clusterOptions = {}) {
      const cluster = new Cluster(
        nodes.map((node) => ({ host: node.host, port: node.port })),
        {
          retryDelayOnFailover: 100,
          retryDelayOnClusterDown: 100,
          ...clusterOptions,
        },
      );
      return cluster;
    },
    stop,
  };
}
