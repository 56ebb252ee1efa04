// The demo apps as real child processes (`node --import tsx apps/<name>/src/index.ts`), for end-to-end
// tests: they read their configuration from the environment exactly as in production.
import { type ChildProcess, type ChildProcessByStdio, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export type AppName = 'api' | 'worker' | 'dashboard';

/** The log line each app prints once it serves, and the field holding its port. */
const READY: Record<AppName, { msg: string; portField: string }> = {
  api: { msg: 'api listening', portField: 'port' },
  worker: { msg: 'worker ready', portField: 'metricsPort' },
  dashboard: { msg: 'dashboard listening', portField: 'port' },
};

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** An app's process as spawned, ready or not: see {@link spawnApp}. */
export interface SpawnedApp {
  name: AppName;
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Settles once the process has exited, with how it ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Spawns an app with `env` over the current environment, its stdout and stderr piped, without waiting for it:
 * for a test of an app that may never get ready. {@link startApp} waits.
 */
export function spawnApp(name: AppName, env: Record<string, string>): SpawnedApp {
  const child = spawn(process.execPath, ['--import', 'tsx', `apps/${name}/src/index.ts`], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { name, child, exited };
}

export interface AppProcess {
  name: AppName;
  child: ChildProcess;
  /** The HTTP port (the metrics port for the worker). */
  port: number;
  url: string;
  /** Every JSON log line so far. */
  logs: LogLine[];
  /** Everything the process wrote that was not a JSON log line (stderr, stack traces). */
  output: string[];
  /** Sends `signal` and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts an app with `env` over the current environment (PORT and METRICS_PORT default to 0: a free port,
 * read back from the ready log line). Rejects if it exits, or does not get ready within `timeoutMs`.
 */
export function startApp(
  name: AppName,
  env: Record<string, string>,
  { timeoutMs = 30_000 } = {},
): Promise<AppProcess> {
  const { child, exited } = spawnApp(name, { PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info', ...env });
  const logs: LogLine[] = [];
  const output: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));

  return new Promise<AppProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} was not ready within ${timeoutMs} ms:\n${output.join('\n')}`));
    }, timeoutMs);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready:\n${output.join('\n')}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let entry: LogLine;
      try {
        entry = JSON.parse(line) as LogLine;
      } catch {
        output.push(line);
        return;
      }
      logs.push(entry);
      if (entry.msg !== READY[name].msg) return;
      clearTimeout(timer);
      const port = Number(entry[READY[name].portField]);
      resolve({
        name,
        child,
        port,
        url: `http://127.0.0.1:${port}`,
        logs,
        output,
        async stop(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
  });
}
