// docker-compose.yml and the Kubernetes examples, checked without Docker: the properties the durability
// and operations story depends on, and that every command and variable points at something real.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
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
}

const compose = readYaml('docker-compose.yml') as { services: Record<string, Service> };
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
      stats: async () => ({ dirtyKeys: 0, oldestDirtyAgeMs: 0, failedKeys: 0, shards: [] }),
      queues: [],
    },
    counters: {
      batches: 0,
      statements: 0,
      rowsWritten: 0,
      keysFlushed: 0,
      rowsRejected: 0,
      outages: 0,
      eventsInserted: 0,
    },
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
