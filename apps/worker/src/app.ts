import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { FlushCounters, Logger } from '@write-behind/core';
import {
  type BacklogSource,
  backlogReader,
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
  /** How long `/healthz` waits for Redis. @defaultValue `1000` */
  healthTimeoutMs?: number;
  /** Also export Node's process metrics (memory, event loop lag). @defaultValue `true` */
  processMetrics?: boolean;
}

/**
 * The worker's HTTP surface, for an orchestrator and an autoscaler: `/healthz` (200 while Redis answers)
 * and `/metrics` (Prometheus: this worker's flush counters, the queue depth, dirty keys and lag).
 * A plain request listener: the worker has no other routes, so it needs no framework.
 */
export function createApp({
  cache,
  counters,
  logger = console,
  healthTimeoutMs = 1000,
  processMetrics = true,
}: WorkerAppDependencies): RequestListener {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  registerFlushMetrics(registry, counters);
  registerBacklogMetrics(registry, backlogReader(cache));

  return (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
    if (path === '/healthz') {
      const timeout = AbortSignal.timeout(healthTimeoutMs);
      Promise.race([
        cache.stats(),
        new Promise((_, reject) => timeout.addEventListener('abort', () => reject(timeout.reason))),
      ]).then(
        () => send(res, 200, 'application/json', '{"status":"ok"}'),
        (error: unknown) =>
          send(
            res,
            503,
            'application/json',
            JSON.stringify({
              error: { code: 'UNAVAILABLE', message: `Redis is unreachable: ${String(error)}` },
            }),
          ),
      );
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(res, 200, registry.contentType, text),
        (error: unknown) => {
          logger.warn({ err: error }, 'could not collect metrics');
          send(res, 503, 'text/plain', `metrics unavailable: ${String(error)}\n`);
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
