// A private redis-server for the tests, chaos scripts and benchmark cases that need a Redis of their own: one
// they can SIGKILL and restart on its data directory, or start with a password, TLS or other settings.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** Runs `call` on a fresh connection to the server on `port` of 127.0.0.1, without retries, then disconnects. */
export async function withNode<T>(port: number, call: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await call(redis);
  } finally {
    redis.disconnect();
  }
}

/** A TCP port of 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface StartRedisOptions {
  /** The password the readiness probe authenticates with (pass `--requirepass` in the arguments too). */
  password?: string;
  /**
   * Serve TLS only: `--tls-port` on the free port, `--port 0`, these PEM files, and no client certificates
   * (`--tls-auth-clients no`). The readiness probe trusts `caFile`.
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** A configuration file, given first as redis-server requires (Sentinel needs one it can rewrite). */
  configFile?: string;
}

export interface RedisServer {
  port: number;
  process: ChildProcess;
  kill(): Promise<void>;
}

/** Starts a private redis-server on a free port of 127.0.0.1 and resolves once it answers PING. */
export async function startRedis(args: string[], options: StartRedisOptions = {}): Promise<RedisServer> {
  const { password, tls, configFile } = options;
  const port = await freePort();
  const listen = tls
    ? [
        ...['--port', '0', '--tls-port', String(port), '--tls-auth-clients', 'no'],
        ...['--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile],
      ]
    : ['--port', String(port)];
  // Without `--dir` a server writes into its working directory (a replica saves the RDB of its first sync even
  // with `--save ''`), so it gets a private one, removed when it is killed.
  const scratch = args.includes('--dir') ? undefined : mkdtempSync(join(tmpdir(), 'wb-redis-'));
  const child = spawn(
    'redis-server',
    [...(configFile ? [configFile] : []), ...listen, '--bind', '127.0.0.1', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(scratch ? { cwd: scratch } : {}),
    },
  );
  const removeScratch = () => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  };
  // The end of redis-server's own log, to say why it did not start.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => null,
    ...(password ? { password } : {}),
    ...(tls ? { tls: { ca: readFileSync(tls.caFile) } } : {}),
  });
  probe.on('error', () => {});
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if (probe.status !== 'ready') await probe.connect();
      // A Redis loading its AOF answers LOADING until it is done.
      if ((await probe.ping()) === 'PONG') break;
    } catch {
      probe.disconnect();
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      probe.disconnect();
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      removeScratch();
      throw new Error(`redis-server on ${port} did not start; its output ends with:\n${output.trim()}`);
    }
    await sleep(50);
  }
  probe.disconnect();
  return {
    port,
    process: child,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      removeScratch();
    },
  };
}
