import type { CaseResult } from './context.ts';
import type { CpuPerOp } from './server-stats.ts';
import type { TargetResult } from './targets.ts';

/*
 * The printed report: Markdown tables, readable in a terminal and pasted as they are into
 * docs/BENCHMARKS.md. Pure.
 */

const integer = (n: number | undefined) => (n === undefined ? '' : Math.round(n).toLocaleString('en'));

/** Milliseconds with about three significant digits. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

/** A Markdown table with columns padded to their widest cell. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function resultsTable(results: readonly CaseResult[]): string {
  return markdownTable(
    [
      'case',
      'what',
      'count',
      'throughput',
      'p50 ms',
      'p99 ms',
      'p99.9 ms',
      'CPU µs/op app+Redis+PG',
      'notes',
    ],
    results.map((r) => [
      r.id,
      r.title,
      r.count === undefined ? '' : `${integer(r.count)} ${r.countUnit ?? ''}`.trim(),
      r.rate === undefined ? '' : `${integer(r.rate)} ${r.rateUnit ?? ''}`.trim(),
      formatMs(r.p50Ms),
      formatMs(r.p99Ms),
      formatMs(r.p999Ms),
      r.cpu ? formatCpu(r.cpu) : '',
      [...r.notes, ...(r.errors ? [`${r.errors} errors, first: ${r.firstError ?? '?'}`] : [])].join('; '),
    ]),
  );
}

export function targetsTable(targets: readonly TargetResult[]): string {
  return markdownTable(
    ['target', 'measured', 'result'],
    targets.map((t) => [t.target, t.measured, t.verdict]),
  );
}

/** `app + Redis + PG` µs per operation; PG is `?` where PostgreSQL does not run on this machine. */
export function formatCpu(cpu: CpuPerOp): string {
  const pg = cpu.postgresUsPerOp === undefined ? '?' : cpu.postgresUsPerOp.toFixed(0);
  return `${cpu.nodeUsPerOp.toFixed(0)} + ${cpu.redisUsPerOp.toFixed(0)} + ${pg}`;
}
