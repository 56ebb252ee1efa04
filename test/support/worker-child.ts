// A flush worker in a child process (`worker-process.ts`), for the tests and chaos scripts that SIGKILL it.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Harness } from './harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER_ENTRY = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
/** Short enough that a dead worker's jobs are recovered in about two seconds. */
export const STALLED = { lockDurationMs: 1000, stalledIntervalMs: 500 };

export interface WorkerChild {
  process: ChildProcess;
  /** Resolves when the child prints `line`; rejects if it exits first or `timeoutMs` passes. */
  waitFor(line: string, timeoutMs?: number): Promise<void>;
  stderr(): string;
  kill(): Promise<void>;
}

/**
 * Starts a worker for `h`'s prefix and schema with the short lock of {@link STALLED}; `env` adds
 * worker-process.ts switches such as `HANG_ON_UPSERT`.
 */
export function startWorkerProcess(h: Harness, env: Record<string, string>): WorkerChild {
  return spawnWorkerProcess({
    WB_PREFIX: h.prefix,
    WB_SCHEMA: h.db.schema,
    LOCK_DURATION_MS: String(STALLED.lockDurationMs),
    STALLED_INTERVAL_MS: String(STALLED.stalledIntervalMs),
    ...env,
  });
}

/** Starts `worker-process.ts` with `env` over this process's environment (`WB_PREFIX`, `WB_SCHEMA`, ...). */
export function spawnWorkerProcess(env: Record<string, string>): WorkerChild {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_ENTRY], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const seen = new Set<string>();
  const waiters = new Map<string, () => void>();
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString('utf8');
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    seen.add(line.trim());
    waiters.get(line.trim())?.();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    stderr: () => errors,
    waitFor(line, timeoutMs = 20_000) {
      if (seen.has(line)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`worker process did not print ${line} in ${timeoutMs} ms:\n${errors}`)),
          timeoutMs,
        );
        waiters.set(line, () => {
          clearTimeout(timer);
          resolve();
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`worker process exited (${child.exitCode}) before ${line}:\n${errors}`));
        });
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
