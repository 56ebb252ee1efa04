// A flush worker in a child process (`worker-entry.ts`): for the tests and chaos scripts that SIGKILL it
// mid-flush, the soak that watches its memory, and the benchmark that times it and reads its counters.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FlushOptions } from '@write-behind/core';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('./worker-entry.ts', import.meta.url));
/** The environment variable that carries a {@link WorkerProcessConfig} (JSON) to the child. */
export const WORKER_CONFIG_VARIABLE = 'WB_WORKER_CONFIG';
/** How much of the child's output {@link WorkerProcess.output} keeps: the end of it. */
const OUTPUT_KEPT_CHARS = 20_000;

export interface WorkerProcessConfig {
  /**
   * `flush`: the library's flush worker (`cache.createWorker()`), with no sweep. `noop`: a bare BullMQ Worker
   * whose processor does nothing, on the same queue (shard 0 of 1): the ceiling the benchmark compares with.
   * @defaultValue `'flush'`
   */
  mode?: 'flush' | 'noop';
  /** @defaultValue the child's `REDIS_URL` (the parent's, unless `env` overrides it) */
  redisUrl?: string;
  /** A Redis Cluster's seed nodes (`RedisCluster.startupNodes`): the worker connects to it, not `redisUrl`. */
  clusterNodes?: { host: string; port: number }[];
  /** The cache's `shards` (flush mode); every process of one cache must use the same. @defaultValue `1` */
  shards?: number;
  /** PostgreSQL with `search_path` set to the schema (`TestDatabase.url`, `schemaUrl(...)`); flush mode. */
  databaseUrl?: string;
  prefix: string;
  /**
   * The flush worker's store, a Prisma store on `databaseUrl` as the apps build it, or one of these faults:
   * - `hang-on-upsert`: upserts never resolve, and the first reports `upsert-started` (to kill it mid-flush);
   * - `hang-after-upsert`: upserts commit, then never resolve, and the first reports `upsert-committed` (to
   *   kill it after the commit, before the acknowledgement);
   * - `discard-writes`: upserts and deletes succeed without reaching PostgreSQL (loads still do), to show what
   *   the database statements cost;
   * - `hang-on-append` / `hang-after-append`: the same as the two `hang-` faults above, for the inserts of
   *   append entities, reporting `append-started` / `append-committed`;
   * - `hang-on-add` / `hang-after-add`: the same for the sums of `cache.add`, reporting `add-started` /
   *   `add-committed`;
   * - `hold-add`: the sums of `cache.add` wait for {@link WorkerProcess.go} (the first reports `add-started`),
   *   then go to the database.
   * @defaultValue `'prisma'`
   */
  store?:
    | 'prisma'
    | 'hang-on-upsert'
    | 'hang-after-upsert'
    | 'discard-writes'
    | 'hang-on-append'
    | 'hang-after-append'
    | 'hang-on-add'
    | 'hang-after-add'
    | 'hold-add';
  /**
   * With a `hang-after-` store: it works as the plain store until {@link WorkerProcess.go}, and hangs after its
   * first commit from then on, so that a worker started ahead (ready, its start-up paid) hangs when chosen.
   * @defaultValue `false`
   */
  hangAfterGo?: boolean;
  /**
   * The entities: the demo's (`entities`), those and the append entity `videoEvent` (`eventEntities`), or
   * every entity of the demo schema, `comment` too (`chaosEntities`).
   * @defaultValue `'demo'`
   */
  entities?: 'demo' | 'events' | 'chaos';
  /** The cache's `flush` options (flush mode). @defaultValue the library's */
  flush?: Pick<FlushOptions, 'windowMs' | 'backoffMs' | 'outageBackoffMs' | 'maxOutageBackoffMs'>;
  /** Worker options: jobs in flight and BullMQ's stalled-job check. @defaultValue the library's */
  worker?: { concurrency?: number; lockDurationMs?: number; stalledIntervalMs?: number };
}

/** What the child reports: `ready` once its worker is connected, and the faults of `store` as they happen. */
export type WorkerEvent =
  | 'ready'
  | 'upsert-started'
  | 'upsert-committed'
  | 'append-started'
  | 'append-committed'
  | 'add-started'
  | 'add-committed';

/** Messages between the parent and `worker-entry.ts`, over the IPC channel. */
export type ToWorker = { type: 'stop' } | { type: 'go' };
export type FromWorker =
  | { type: 'event'; event: WorkerEvent }
  | { type: 'counters'; counters: Record<string, number> };

export interface SpawnOptions {
  /** Variables over this process's environment, for the child only (`NODE_EXTRA_CA_CERTS`, `REDIS_URL`). */
  env?: Record<string, string>;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /**
   * `capture`: keep the child's stdout and stderr for {@link WorkerProcess.output} (error messages quote
   * it); `inherit`: let it through to this process's.
   * @defaultValue `'capture'`
   */
  output?: 'capture' | 'inherit';
}

export interface WorkerProcess {
  process: ChildProcess;
  /** Resolves when the child reports `event`; rejects if it exits first or `timeoutMs` passes. */
  waitFor(event: WorkerEvent, timeoutMs?: number): Promise<void>;
  /** The end of what the child printed (with `output: 'capture'`). */
  output(): string;
  /**
   * Closes the child's worker (it finishes what it holds), then the process; resolves with the worker's
   * counters and `cpuMicros`, the CPU it used since it was ready. Once: later calls return the same promise.
   */
  stop(timeoutMs?: number): Promise<Record<string, number>>;
  /** SIGKILLs the child (if still running) and resolves once it has exited. */
  kill(): Promise<void>;
  /** Lets the sums a `hold-add` store holds go to the database; arms a `hang-after-` store (`hangAfterGo`). */
  go(): void;
  /** Freezes the child (SIGSTOP): its event loop stops, its locks lapse; `thaw` continues it. */
  freeze(): void;
  thaw(): void;
}

/** Starts `worker-entry.ts` with `config`; it reports `ready` once its worker is connected. */
export function spawnWorkerProcess(config: WorkerProcessConfig, options: SpawnOptions = {}): WorkerProcess {
  const capture = (options.output ?? 'capture') === 'capture';
  const child = fork(WORKER_ENTRY, [], {
    // From the root, where tsx finds tsconfig.json (its `paths` send @write-behind/core to the sources).
    cwd: ROOT,
    execArgv: ['--import', 'tsx', ...(options.nodeArgs ?? [])],
    env: { ...process.env, ...options.env, [WORKER_CONFIG_VARIABLE]: JSON.stringify(config) },
    stdio: ['ignore', capture ? 'pipe' : 'inherit', capture ? 'pipe' : 'inherit', 'ipc'],
  });
  let printed = '';
  const keep = (chunk: Buffer) => {
    printed = (printed + chunk.toString('utf8')).slice(-OUTPUT_KEPT_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const seen = new Set<WorkerEvent>();
  let counters: Record<string, number> | undefined;
  child.on('message', (message: FromWorker) => {
    if (message.type === 'event') seen.add(message.event);
    else if (message.type === 'counters') counters = message.counters;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const describeExit = () => `exited (${child.signalCode ?? child.exitCode})`;

  /** Resolves when `done()` holds after a message; rejects on exit or after `timeoutMs`. */
  const until = <T>(what: string, timeoutMs: number, done: () => T | undefined): Promise<T> => {
    const now = done();
    if (now !== undefined) return Promise.resolve(now);
    if (!running())
      return Promise.reject(new Error(`worker process ${describeExit()} before ${what}:\n${printed}`));
    return new Promise<T>((resolve, reject) => {
      const finish = (error?: Error, value?: T) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (error) reject(error);
        else resolve(value as T);
      };
      const timer = setTimeout(
        () => finish(new Error(`worker process sent no ${what} in ${timeoutMs} ms:\n${printed}`)),
        timeoutMs,
      );
      const onMessage = () => {
        const value = done();
        if (value !== undefined) finish(undefined, value);
      };
      const onExit = () => finish(new Error(`worker process ${describeExit()} before ${what}:\n${printed}`));
      child.on('message', onMessage);
      child.on('exit', onExit);
    });
  };

  let stopping: Promise<Record<string, number>> | undefined;
  return {
    process: child,
    output: () => printed,
    waitFor: (event, timeoutMs = 20_000) =>
      until(event, timeoutMs, () => (seen.has(event) ? true : undefined)).then(() => {}),
    stop(timeoutMs = 30_000) {
      stopping ??= (async () => {
        if (!running())
          throw new Error(`worker process ${describeExit()} before it was stopped:\n${printed}`);
        child.send({ type: 'stop' } satisfies ToWorker);
        try {
          return await until('counters', timeoutMs, () => counters);
        } finally {
          // It exits by itself once it has sent them; one that does not is killed.
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(timer);
        }
      })();
      return stopping;
    },
    async kill() {
      // A frozen child takes SIGKILL too.
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    go: () => child.send({ type: 'go' } satisfies ToWorker),
    freeze: () => child.kill('SIGSTOP'),
    thaw: () => child.kill('SIGCONT'),
  };
}

/** {@link spawnWorkerProcess}, resolved once the worker is connected; killed if it is not within `timeoutMs`. */
export async function startWorkerProcess(
  config: WorkerProcessConfig,
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<WorkerProcess> {
  const worker = spawnWorkerProcess(config, options);
  try {
    await worker.waitFor('ready', options.timeoutMs ?? 30_000);
  } catch (error) {
    await worker.kill();
    throw error;
  }
  return worker;
}
