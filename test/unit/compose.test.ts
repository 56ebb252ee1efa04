// docker-compose.yml and the Kubernetes examples, checked without Docker: the properties the durability
// and operations story depends on, and that every command and variable points at something real.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { shardKeys } from '@write-behind/core/internal';
import { loadConfig } from '@write-behind/demo';
import { ZERO_FLUSH_COUNTERS } from '@write-behind/testkit';
import { parse } from 'yaml';
import { apiConfigSpec } from '../../apps/api/src/config.ts';
import { dashboardConfigSpec } from '../../apps/dashboard/src/config.ts';
import { createApp as createWorkerApp } from '../../apps/worker/src/app.ts';
import { workerConfigSpec } from '../../apps/worker/src/config.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readYaml = (path: string) => parse(readFileSync(`${root}${path}`, 'utf8'), { merge: true });

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  ports?: string[];
  deploy?: { replicas?: number };
  restart?: string;
  hostname?: string;
  profiles?: string[];
  volumes?: string[];
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
}

const compose = readYaml('docker-compose.yml') as {
  services: Record<string, Service>;
  networks?: Record<string, { ipam?: { config?: { subnet?: string }[] } }>;
};
const services = compose.services;
const service = (name: string): Service => {
  const found = services[name];
  assert.ok(found, `docker-compose.yml has no ${name} service`);
  return found;
};
const APPS = { api: apiConfigSpec, worker: workerConfigSpec, dashboard: dashboardConfigSpec };

test('Redis persists every second and never evicts', () => {
  const redis = service('redis');
  const command = (redis.command ?? []).map(String);
  const option = (name: string) => command[command.indexOf(`--${name}`) + 1];
  assert.equal(command[0], 'redis-server');
  assert.equal(option('appendonly'), 'yes');
  assert.equal(option('appendfsync'), 'everysec');
  assert.equal(option('maxmemory-policy'), 'noeviction');
  assert.equal(option('hash-max-listpack-value'), '256');
  assert.ok(redis.healthcheck, 'redis has a healthcheck');
});

test('PostgreSQL has a healthcheck and a one-shot migration runs prisma migrate deploy', () => {
  assert.ok(service('postgres').healthcheck);
  const migrate = service('migrate');
  assert.deepEqual(migrate.command, ['npx', 'prisma', 'migrate', 'deploy']);
  assert.equal(migrate.depends_on?.postgres?.condition, 'service_healthy');
  assert.equal(migrate.restart, 'no');
  assert.ok(migrate.environment?.DATABASE_URL);
});

test('the apps wait for healthy servers and a finished migration, and have healthchecks', () => {
  for (const name of Object.keys(APPS)) {
    const app = service(name);
    assert.deepEqual(
      app.depends_on,
      {
        redis: { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      },
      name,
    );
    assert.ok(app.healthcheck, `${name} has a healthcheck`);
    assert.ok(JSON.stringify(app.healthcheck?.test).includes('/healthz'), `${name} checks /healthz`);
    assert.deepEqual(app.command?.slice(0, 3), ['node', '--import', 'tsx']);
    assert.ok(existsSync(`${root}${app.command?.[3]}`), `${name} runs ${app.command?.[3]}, which exists`);
    assert.ok(app.build, `${name} is built from the Dockerfile`);
  }
  assert.ok(existsSync(`${root}Dockerfile`));
});

test("the Dockerfile copies every workspace's manifest before npm ci, which needs each of them", () => {
  const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
  const beforeInstall = dockerfile.slice(0, dockerfile.indexOf('RUN npm ci'));
  const workspaces = ['packages', 'apps'].flatMap((dir) =>
    readdirSync(`${root}${dir}`, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(`${root}${dir}/${entry.name}/package.json`))
      .map((entry) => `${dir}/${entry.name}`),
  );
  assert.ok(workspaces.length >= 6, `workspaces: ${workspaces.join(', ')}`);
  for (const workspace of workspaces) {
    assert.ok(
      beforeInstall.includes(`COPY ${workspace}/package.json ${workspace}/`),
      `the Dockerfile copies ${workspace}/package.json before npm ci`,
    );
  }
});

test('two workers run, and no host port stops them from scaling', () => {
  const worker = service('worker');
  assert.equal(worker.deploy?.replicas, 2);
  assert.equal(worker.ports, undefined);
});

test('the dashboard listens beyond its container only with credentials', () => {
  const env = service('dashboard').environment ?? {};
  assert.equal(env.HOST, '0.0.0.0');
  assert.match(env.DASHBOARD_USER ?? '', /^\$\{DASHBOARD_USER:\?/);
  assert.match(env.DASHBOARD_PASSWORD ?? '', /^\$\{DASHBOARD_PASSWORD:\?/);
});

test('without a profile only the single-Redis stack runs', () => {
  for (const name of ['redis', 'postgres', 'migrate', ...Object.keys(APPS)]) {
    assert.equal(service(name).profiles, undefined, name);
  }
});

test('every variable given to an app is one it reads, and every app talks to the same prefix', () => {
  for (const [name, spec] of Object.entries(APPS)) {
    const env = service(name).environment ?? {};
    for (const variable of Object.keys(env)) {
      assert.ok(variable in spec, `${name} is given ${variable}, which it does not read`);
    }
    assert.equal(env.WB_PREFIX, 'wb', name);
    assert.equal(env.REDIS_URL, 'redis://redis:6379', name);
  }
});

test('the KEDA ScaledObject scales the worker Deployment on metrics the worker exports', async () => {
  const deployment = readYaml('deploy/worker-deployment.yaml');
  const scaled = readYaml('deploy/keda-scaledobject.yaml');
  assert.equal(deployment.kind, 'Deployment');
  assert.equal(scaled.kind, 'ScaledObject');
  assert.equal(scaled.spec.scaleTargetRef.name, deployment.metadata.name);
  assert.ok(scaled.spec.minReplicaCount >= 1, 'a worker always runs (it also runs the sweep)');

  const container = deployment.spec.template.spec.containers[0];
  assert.deepEqual(container.command, ['node', '--import', 'tsx', 'apps/worker/src/index.ts']);
  for (const { name } of container.env)
    assert.ok(name in workerConfigSpec, `the worker does not read ${name}`);
  assert.equal(container.readinessProbe.httpGet.path, '/healthz');
  assert.ok(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000 > 10_000 + 5_000);

  // The queries name metrics that a worker's /metrics really has.

  const handler = createWorkerApp({
    cache: {
      stats: async () => ({
        dirtyKeys: 0,
        oldestDirtyAgeMs: 0,
        failedKeys: 0,
        pendingEvents: 0,
        refusedEvents: 0,
        keys: 0,
        bytes: 0,
        evictions: 0,
        shards: [],
      }),
      queues: [],
    },
    counters: ZERO_FLUSH_COUNTERS,
    processMetrics: false,
  });
  const text = await new Promise<string>((resolve) => {
    const res = {
      writeHead: () => res,
      end: (body: string) => resolve(body),
    };
    handler({ url: '/metrics', method: 'GET' } as never, res as never);
  });
  for (const trigger of scaled.spec.triggers) {
    const metric = /max\((\w+)/.exec(trigger.metadata.query)?.[1];
    assert.ok(metric && new RegExp(`^${metric} `, 'm').test(text), `${metric} is not exported by the worker`);
  }
});

describe('the cluster profile', () => {
  const NODES = Array.from({ length: 6 }, (_, i) => `redis-node-${i + 1}`);
  const CLUSTER_APPS = (Object.keys(APPS) as (keyof typeof APPS)[]).map(
    (name) => [name, `${name}-cluster`] as const,
  );
  const networksOf = (s: Service) =>
    Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? { default: null });
  /** `--name value` pairs of a redis-server command line. */
  const options = (command: string[]) =>
    new Map(
      command.slice(1).flatMap((word, i, words) => (i % 2 === 0 ? [[word, String(words[i + 1])]] : [])),
    );

  /** The redis-server options of a node: its `sh -c` line, with compose's `$$` read as `$`. */
  const nodeOptions = (name: string) => {
    const command = service(name).command ?? [];
    assert.deepEqual(command.slice(0, 2), ['sh', '-c'], name);
    const words = String(command[2]).replace(/\$\$/g, '$').split(/\s+/);
    assert.deepEqual(words.slice(0, 3), ['exec', 'docker-entrypoint.sh', 'redis-server'], name);
    return options(['redis-server', ...words.slice(3)]);
  };

  test('six redis-server nodes in cluster mode, persistent and never evicting, like the single Redis', () => {
    const single = options((service('redis').command ?? []).map(String));
    for (const name of NODES) {
      const node = service(name);
      assert.deepEqual(node.profiles, ['cluster'], name);
      const option = nodeOptions(name);
      assert.equal(option.get('--cluster-enabled'), 'yes', name);
      for (const setting of [
        '--appendonly',
        '--appendfsync',
        '--maxmemory-policy',
        '--hash-max-listpack-value',
      ]) {
        assert.equal(option.get(setting), single.get(setting), `${name} ${setting}`);
      }
      assert.ok(node.healthcheck, `${name} has a healthcheck`);
      assert.deepEqual(node.volumes, [`${name}-data:/data`], `${name} keeps its data and nodes.conf`);
    }
  });

  test('clients are sent to service names; the nodes gossip fixed addresses of their own network', () => {
    const subnet = compose.networks?.['redis-cluster']?.ipam?.config?.[0]?.subnet ?? '';
    const [network, bits] = subnet.split('/');
    assert.equal(bits, '24', `a /24 subnet for the cluster network, got ${JSON.stringify(subnet)}`);
    const addresses = NODES.map((name) => {
      const node = service(name);
      const option = nodeOptions(name);
      // CLUSTER SLOTS answers with the announced name: the container's host name, which is its service
      // name, and resolves in the compose network.
      assert.equal(option.get('--cluster-announce-hostname'), '"$HOSTNAME"');
      assert.equal(node.hostname, name);
      assert.equal(option.get('--cluster-preferred-endpoint-type'), 'hostname');
      const address = (node.networks as Record<string, { ipv4_address?: string }>)['redis-cluster']
        ?.ipv4_address;
      assert.ok(
        address?.startsWith(`${network?.split('.').slice(0, 3).join('.')}.`),
        `${name} at ${address}`,
      );
      return address;
    });
    assert.equal(new Set(addresses).size, NODES.length, `distinct addresses: ${addresses.join(', ')}`);
  });

  test('a one-shot init creates the cluster from all six nodes, once', () => {
    const init = service('redis-cluster-init');
    assert.deepEqual(init.profiles, ['cluster']);
    assert.equal(init.restart, 'no');
    assert.deepEqual(
      init.depends_on,
      Object.fromEntries(NODES.map((name) => [name, { condition: 'service_healthy' }])),
    );
    assert.ok(networksOf(init).includes('redis-cluster'));
    const script = (init.command ?? []).join(' ').replace(/\s+/g, ' ');
    const create = /redis-cli --cluster create ((?:\S+:\d+ )+)--cluster-replicas 1 --cluster-yes/.exec(
      script,
    );
    assert.ok(create, `the init runs redis-cli --cluster create with one replica each: ${script}`);
    assert.deepEqual(
      create[1]?.trim().split(' '),
      NODES.map((name) => `${name}:6379`),
    );
    // A second `up` finds the nodes already joined (nodes.conf in their volumes) and must not fail on them.
    assert.match(script, /cluster info \| grep -q '\^cluster_slots_assigned:16384'.*exit 0/);
  });

  test('the apps name every node in REDIS_CLUSTER_NODES, wait for the cluster, and use a database of their own', () => {
    const migrate = service('migrate-cluster');
    assert.deepEqual(migrate.profiles, ['cluster']);
    assert.deepEqual(migrate.command, service('migrate').command);
    const database = migrate.environment?.DATABASE_URL;
    assert.ok(database && database !== service('migrate').environment?.DATABASE_URL, 'a database of its own');

    const hostPorts = new Set<string>();
    for (const [plain, name] of CLUSTER_APPS) {
      const app = service(name);
      const env = app.environment ?? {};
      assert.deepEqual(app.profiles, ['cluster'], name);
      assert.deepEqual(app.command, service(plain).command, `${name} runs what ${plain} runs`);
      assert.deepEqual(app.healthcheck, service(plain).healthcheck, name);
      assert.deepEqual(app.depends_on, {
        'redis-cluster-init': { condition: 'service_completed_successfully' },
        postgres: { condition: 'service_healthy' },
        'migrate-cluster': { condition: 'service_completed_successfully' },
      });
      assert.deepEqual(networksOf(app).sort(), ['default', 'redis-cluster'], name);
      for (const variable of Object.keys(env)) {
        assert.ok(variable in APPS[plain], `${name} is given ${variable}, which it does not read`);
      }
      assert.equal(env.REDIS_URL, undefined, `${name} has no REDIS_URL to be mistaken for its Redis`);
      assert.equal(env.DATABASE_URL, database, name);
      // The values as the app reads them (the compose-time `${...}` credentials stand in as plain text).
      const config = loadConfig(
        Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.startsWith('${') ? 'x' : v])),
        APPS[plain],
      );
      assert.deepEqual(
        config.REDIS_CLUSTER_NODES?.nodes,
        NODES.map((host) => ({ host, port: 6379 })),
        name,
      );
      assert.equal(config.WB_PREFIX, service('api-cluster').environment?.WB_PREFIX, name);
      assert.equal(config.WB_SHARDS, Number(service('api-cluster').environment?.WB_SHARDS), name);
      for (const port of app.ports ?? []) hostPorts.add(port.split(':').slice(0, -1).join(':'));
    }
    for (const [plain] of CLUSTER_APPS) {
      for (const port of service(plain).ports ?? []) {
        const host = port.split(':').slice(0, -1).join(':');
        assert.ok(!hostPorts.has(host), `the cluster stack publishes ${host} as ${plain} does`);
      }
    }
    assert.deepEqual(service('worker-cluster').deploy, service('worker').deploy);
    assert.equal(service('dashboard-cluster').environment?.HOST, '0.0.0.0');
    assert.match(
      service('dashboard-cluster').environment?.DASHBOARD_PASSWORD ?? '',
      /^\$\{DASHBOARD_PASSWORD:\?/,
    );
  });

  test("the profile's shards are spread over all three masters of the cluster the init creates", () => {
    const env = service('api-cluster').environment ?? {};
    const shards = Number(env.WB_SHARDS);
    // redis-cli --cluster create with three masters gives each a third of the slots, in this order.
    const masterOf = (slot: number) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2);
    const masters = new Set(
      Array.from({ length: shards }, (_, shard) =>
        masterOf(keySlot(shardKeys(env.WB_PREFIX ?? '', shard, shards).tag)),
      ),
    );
    assert.equal(masters.size, 3, `${shards} shards of prefix ${env.WB_PREFIX} use masters ${[...masters]}`);
  });
});

/** Redis Cluster's hash slot of a key: CRC16 (XMODEM) of its hash tag, or of the whole key, mod 16384. */
function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16_384;
}
