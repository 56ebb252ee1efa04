import type { CaseResult } from './context.ts';

/*
 * The targets of issue 4, evaluated on figures from one run. Pure: results in, verdicts out. The benchmark
 * reports; a MISS never fails the process.
 */

export type Verdict = 'PASS' | 'MISS' | 'n/a';

export interface TargetResult {
  target: string;
  measured: string;
  verdict: Verdict;
  /** The figure compared with the limit (a ratio, ms, bytes...), for the JSON file. */
  value?: number;
  limit: number;
}

const fmt = (n: number, digits = 2) =>
  n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

export function evaluateTargets(results: readonly CaseResult[], windowMs: number): TargetResult[] {
  const byId = new Map(results.map((r) => [r.id, r]));
  const rate = (id: string) => byId.get(id)?.rate;
  const metric = (id: string, name: string) => byId.get(id)?.metrics[name];
  const targets: TargetResult[] = [];

  const add = (target: string, value: number | undefined, limit: number, atLeast: boolean, shown: string) => {
    const known = value !== undefined && Number.isFinite(value);
    targets.push({
      target,
      measured: known ? shown : 'not measured',
      verdict: !known ? 'n/a' : (atLeast ? value >= limit : value <= limit) ? 'PASS' : 'MISS',
      ...(known ? { value } : {}),
      limit,
    });
  };
  const ratio = (a: string, b: string) => {
    const x = rate(a);
    const y = rate(b);
    return x !== undefined && y !== undefined && y > 0 ? x / y : undefined;
  };
  const ratioText = (a: string, b: string, unit = 'ops/s') =>
    `${fmt(ratio(a, b) ?? Number.NaN)}× (${fmt(rate(a) ?? 0, 0)} vs ${fmt(rate(b) ?? 0, 0)} ${unit})`;

  add('W1 ≥ 0.6 × A', ratio('W1', 'A'), 0.6, true, ratioText('W1', 'A'));
  add(
    'W1 vs A with auto-pipelining (informational)',
    ratio('W1', 'A autopipe'),
    0,
    true,
    ratioText('W1', 'A autopipe'),
  );
  const w1p99 = byId.get('W1')?.p99Ms;
  const ap99 = byId.get('A')?.p99Ms;
  add(
    'W1 p99 ≤ 2 ms',
    w1p99,
    2,
    false,
    `${fmt(w1p99 ?? 0, 2)} ms${ap99 === undefined ? '' : ` (A's own p99: ${fmt(ap99, 2)} ms)`}`,
  );
  // J, BullMQ's add alone, is the floor of W2's work: beside W2's ratios, where it stands.
  const floor = (base: string) =>
    ratio('J', base) === undefined ? '' : `; J, the job alone: ${fmt(ratio('J', base) ?? 0)}×`;
  add('W2 ≥ 0.3 × A', ratio('W2', 'A'), 0.3, true, ratioText('W2', 'A') + floor('A'));
  add(
    'W2a ≥ 0.9 × J',
    ratio('W2a', 'J'),
    0.9,
    true,
    `${ratioText('W2a', 'J')}${ratio('W2', 'J') === undefined ? '' : `; W2 (increment, reads): ${fmt(ratio('W2', 'J') ?? 0)}× J`}`,
  );
  const cold = metric('E1', 'coldPerWarm');
  add('E1 cold append keys within 10 % of warm', cold, 0.9, true, `${fmt(cold ?? 0)}× the rate on warm keys`);
  const appendFlush = metric('E1', 'flushPerPlain');
  add('E1 append flush ≥ 0.6 × plain INSERT', appendFlush, 0.6, true, `${fmt(appendFlush ?? 0)}×`);
  for (const id of ['W1', 'W2', 'W3']) {
    add(`${id} ≥ 10 × B`, ratio(id, 'B'), 10, true, ratioText(id, 'B') + (id === 'W2' ? floor('B') : ''));
  }
  const shape = ratio('F1', 'F1 ceiling (job shape)');
  add(
    'F1 ≥ 0.7 × no-op ceiling',
    ratio('F1', 'F1 ceiling'),
    0.7,
    true,
    ratioText('F1', 'F1 ceiling', '/s') +
      (shape === undefined ? '' : `; ${fmt(shape)}× the no-op over flush-shaped jobs`),
  );
  const perKey = metric('F1', 'statementsPerKey');
  add(
    'F1 ≤ 1 SQL statement per 20 keys',
    perKey,
    1 / 20,
    false,
    `1 per ${fmt(1 / (perKey ?? Number.NaN), 0)} keys (${fmt(perKey ?? 0, 4)} per key)`,
  );
  const coalesced = metric('C1', 'writesPerRowWrite');
  add('C1 ≥ 500 writes per row write', coalesced, 500, true, `${fmt(coalesced ?? 0, 0)}`);
  // L1's lag counts only at the load it names: half of W1's rate, held for the whole phase.
  const achieved = metric('L1', 'achievedRate');
  const asked = metric('L1', 'targetRate');
  add(
    'L1 holds ½ W1 (≥ 95 % of the rate asked)',
    achieved !== undefined && asked ? achieved / asked : undefined,
    0.95,
    true,
    `${fmt(achieved ?? 0, 0)} of ${fmt(asked ?? 0, 0)} ops/s`,
  );
  const lagP99 = metric('L1', 'lagP99Ms');
  add(
    `L1 ack→row p99 ≤ window + 1 s (${fmt(windowMs + 1000, 0)} ms)`,
    lagP99,
    windowMs + 1000,
    false,
    `${fmt(lagP99 ?? 0, 0)} ms`,
  );
  const drain = metric('L1', 'drainMs');
  add(
    `L1 drain ≤ window + 2 s (${fmt(windowMs + 2000, 0)} ms)`,
    drain,
    windowMs + 2000,
    false,
    `${fmt(drain ?? 0, 0)} ms`,
  );
  for (const id of ['M1', 'M1 (W2)', 'M1 (listpack)']) {
    const bytes = metric(id, 'bytesPerKey');
    add(`${id} < 1 KiB per dirty key`, bytes, 1024, false, `${fmt(bytes ?? 0, 0)} B`);
  }
  // `< 1 KiB` is strict: exactly 1024 bytes misses.
  for (const t of targets) if (t.target.includes('< 1 KiB') && t.value === 1024) t.verdict = 'MISS';
  return targets;
}
