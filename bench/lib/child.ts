import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER_SCRIPT = fileURLToPath(new URL('../worker-process.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

export interface WorkerChildOptions {
  /** `flush-discard`: the flush worker with database writes discarded (see `discardWrites`). */
  mode: 'flush' | 'flush-discard' | 'noop';
  redisUrl: string;
  dbUrl: string;
  prefix: string;
  windowMs: number;
  concurrency: number;
}

export interface WorkerChild {
  /** Closes the child's worker (it drains what it holds) and returns its counters. */
  stop(): Promise<Record<string, number>>;
}

/** Starts `bench/worker-process.ts` in a child process and waits until its worker is connected. */
export async function startWorkerChild(options: WorkerChildOptions): Promise<WorkerChild> {
  const child = fork(WORKER_SCRIPT, [], {
    // BENCH_CHILD_NODE_ARGS: extra node flags for the worker children, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      BENCH_MODE: options.mode,
      BENCH_REDIS_URL: options.redisUrl,
      BENCH_DB_URL: options.dbUrl,
      BENCH_PREFIX: options.prefix,
      BENCH_WINDOW_MS: String(options.windowMs),
      BENCH_CONCURRENCY: String(options.concurrency),
    },
  });
  await nextMessage(child, 'ready', START_TIMEOUT_MS);
  let stopping: Promise<Record<string, number>> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        const reply = nextMessage(child, 'counters', STOP_TIMEOUT_MS);
        child.send({ type: 'stop' });
        try {
          const message = await reply;
          return (message.counters ?? {}) as Record<string, number>;
        } finally {
          if (child.exitCode === null) await exited(child, 5_000);
        }
      })();
      return stopping;
    },
  };
}

interface Message {
  type: string;
  counters?: unknown;
}

function nextMessage(child: ChildProcess, type: string, timeoutMs: number): Promise<Message> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill();
      reject(new Error(`worker child sent no '${type}' within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: Message) => {
      if (message?.type !== type) return;
      cleanup();
      resolve(message);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`worker child exited (code ${code}) before sending '${type}'`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
