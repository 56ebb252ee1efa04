// Each app refuses a wrong environment at start-up with a message naming the variable, and the README's
// configuration table documents every variable the apps read.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { describeConfig } from '@write-behind/demo';
import { eventually } from '@write-behind/testkit';
import { apiConfigSpec } from '../apps/api/src/config.ts';
import { dashboardConfigSpec } from '../apps/dashboard/src/config.ts';
import { workerConfigSpec } from '../apps/worker/src/config.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

function run(app: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `apps/${app}/src/index.ts`], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

test('a wrong variable stops each app at start-up with a message naming it', async () => {
  const [api, worker, dashboard, exposed, cluster] = await Promise.all([
    run('api', { PORT: 'eighty', FLUSH_WINDOW_MS: '-5' }),
    run('worker', { WORKER_CONCURRENCY: '0', REDIS_URL: 'http://127.0.0.1:6379' }),
    run('dashboard', { DASHBOARD_USER: 'ops' }),
    run('dashboard', { HOST: '0.0.0.0', DASHBOARD_USER: '', DASHBOARD_PASSWORD: '' }),
    run('worker', { REDIS_CLUSTER_NODES: 'redis://:hunter2@redis-1:6379,redis-2' }),
  ]);
  assert.equal(api.code, 1);
  assert.match(api.stderr, /^api: invalid configuration/m);
  assert.match(api.stderr, /PORT must be an integer from 0 to 65535, got "eighty"/);
  assert.match(api.stderr, /FLUSH_WINDOW_MS must be an integer/);
  assert.equal(worker.code, 1);
  assert.match(worker.stderr, /WORKER_CONCURRENCY must be an integer from 1 to 10000, got "0"/);
  assert.match(worker.stderr, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
  assert.equal(dashboard.code, 1);
  assert.match(dashboard.stderr, /DASHBOARD_PASSWORD is required when DASHBOARD_USER is set/);
  assert.equal(exposed.code, 1);
  assert.match(exposed.stderr, /HOST=0\.0\.0\.0 would expose the dashboard/);
  // A wrong seed is named; the password in front of the list is not printed.
  assert.equal(cluster.code, 1);
  assert.match(cluster.stderr, /^worker: invalid configuration/m);
  assert.match(
    cluster.stderr,
    /REDIS_CLUSTER_NODES must be comma-separated host:port seeds .*"redis-2" has no port/,
  );
  assert.doesNotMatch(cluster.stderr, /hunter2/);
});

test('the README documents every variable the apps read', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const documented = new Set([...readme.matchAll(/^\| `([A-Z_]+)` /gm)].map((m) => m[1]));
  for (const spec of [apiConfigSpec, workerConfigSpec, dashboardConfigSpec]) {
    for (const { name } of describeConfig(spec)) {
      assert.ok(documented.has(name), `README.md's configuration table lacks ${name}`);
    }
  }
});

test('each one-app script generates the Prisma client first, so it starts right after `npm install`', async () => {
  const scripts = JSON.parse(readFileSync(`${root}package.json`, 'utf8')).scripts as Record<string, string>;
  for (const app of ['api', 'worker', 'dashboard']) {
    assert.match(scripts[`start:${app}`] ?? '', /^node scripts\/prisma-generate\.mjs && /, `start:${app}`);
  }
  // The script as npm runs it: it must get as far as listening.
  const child = spawn('npm', ['run', '--silent', 'start:api'], {
    cwd: root,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  try {
    assert.ok(
      await eventually(() => stdout.includes('api listening'), 30_000),
      `npm run start:api listens (output: ${stdout})`,
    );
  } finally {
    // npm and the app beneath it form one process group.
    process.kill(-(child.pid as number), 'SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
});
