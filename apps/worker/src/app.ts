import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { FlushCounters, Logger } from '@write-behind/core';
import {
  type BacklogSource,
  backlogReader,
  errorReason,
  healthCheck,
  LogLimiter,
  registerBacklogMetrics,
  registerFlushMetrics,
} from '@write-behind/demo';
import { collectDefaultMetrics, Registry } from 'prom-client';

export interface WorkerAppDependencies {
  /** The cache the worker flushes for: its queues and backlog are reported. */
  cache: BacklogSource;
  /** The running totals of the flush worker (`worker.counters`). */
  counters: Readonly<FlushCounters>;
  logger?: Logger;
  /**
   * Writes the warnings about failed health checks and scrapes, a few lines per window.
   * @defaultValue a {@link LogLimiter} over `logger` with its default window
   */
  refusals?: LogLimiter;
  /** How long `/healthz` waits for Redis. @defaultValue `1000` */
  healthTimeoutMs?: number;
  /** Also export Node's process metrics (memory, event loop lag). @defaultValue `true` */
  processMetrics?: boolean;
}

/** The code of the log line of a scrape that could not read the backlog. */
export const METRICS_UNAVAILABLE = 'METRICS_UNAVAILABLE';

/**
 * The worker's HTTP surface, for an orchestrator and an autoscaler: `/healthz` (200 while Redis answers)
 * and `/metrics` (Prometheus: this worker's flush counters, the queue depth, dirty keys and lag).
 * A plain request listener: the worker has no other routes, so it needs no framework. Neither route says
 * why it failed (anyone who reaches the port may ask); the reason goes to the log.
 */
export function createApp({
  cache,
  counters,
  logger = console,
  refusals = new LogLimiter(logger),
  healthTimeoutMs = 1000,
  processMetrics = true,
}: WorkerAppDependencies): RequestListener {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  registerFlushMetrics(registry, counters);
  registerBacklogMetrics(registry, backlogReader(cache));
  const checkHealth = healthCheck(cache, { timeoutMs: healthTimeoutMs, refusals });

  return (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
    if (path === '/healthz') {
      void checkHealth().then(({ status, body }) =>
        send(res, status, 'application/json', JSON.stringify(body)),
      );
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(res, 200, registry.contentType, text),
        (error: unknown) => {
          // Redis away, most likely: expected while it is, so a warning a window, and no stack.
          refusals.warn(METRICS_UNAVAILABLE, { reason: errorReason(error) }, 'could not collect metrics');
          send(res, 503, 'text/plain', 'metrics unavailable; the reason is in the log\n');
        },
      );
      return;
    }
    send(res, 404, 'text/plain', 'not found: try /metrics or /healthz\n');
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(body);
}
