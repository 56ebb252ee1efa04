// O1: what the operator console costs Redis. The dashboard process samples the backlog and the activity
// counters for its charts from the moment it starts (`DASHBOARD_SAMPLE_MS`, 2 s by default), and an open
// overview page polls `/api/stats` every second (and `/api/series`, which the dashboard answers from its own
// samples). This counts Redis commands without the dashboard, with the dashboard process running and no page,
// and with the overview open in Chromium (Debian's, through playwright-core, as the dashboard's browser tests:
// the page's own timers, not an imitation of them), at idle and under a steady write load, in one run.
//
// The deployment is the demo's: a worker process and the dashboard process (`startApp`, with the apps'
// defaults), and this process writing through a demo cache, all on a private redis-server (testkit
// `startRedis`), so the counts are theirs alone. Two counts, side by side:
// - Redis's: every command the server ran (INFO commandstats, those inside Lua scripts too), with and without
//   the dashboard. At idle the difference is the dashboard's cost. Under load the load's own count varies by
//   more than the dashboard adds: the run without the dashboard is measured twice, before and after the
//   dashboard's, and the gap between the two says how much.
// - The dashboard's own: it reaches Redis through a counting proxy (lib/command-counter.ts), which counts
//   what it sends; the commands its scripts run inside Redis are added at the rate per script call measured at
//   idle (where Redis's difference is exact), since the scripts it calls (BullMQ's job counts) run a fixed
//   number of commands whatever the backlog. That is the figure under load.
import { setTimeout as sleep } from 'node:timers/promises';
import { cacheConfigSpec, createDemoCache, type DemoCacheHandle, loadConfig } from '@write-behind/demo';
import { type AppProcess, type RedisServer, startApp, startRedis, waitFor } from '@write-behind/testkit';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import {
  launchChromium,
  type SignedInPage,
  signedInPage,
} from '../../apps/dashboard/test/browser-harness.ts';
import { type CommandCounter, startCommandCounter } from '../lib/command-counter.ts';
import type { BenchContext, CaseResult } from '../lib/context.ts';
import { markdownTable } from '../lib/report.ts';

/** Acknowledged increments per second under load, over KEYS keys. */
const RATE = 500;
const KEYS = 2000;
/** After the dashboard starts or the page opens, before measuring: its start-up reads are not its steady cost. */
const SETTLE_MS = 5000;
const CREDENTIALS = { user: 'bench', password: 'bench-o1-password' };
const SCRIPT_CALLS = new Set(['evalsha', 'eval', 'fcall']);

const ARMS = ['without', 'process', 'page'] as const;
type Arm = (typeof ARMS)[number];
const ARM_LABELS: Record<Arm, string> = {
  without: 'no dashboard',
  process: 'dashboard process, no page',
  page: 'dashboard + overview open in Chromium',
};
const PHASES = ['idle', 'load'] as const;
type Phase = (typeof PHASES)[number];

/** Commands per second, by name. */
type Rates = Map<string, number>;

/** One measurement: Redis's commands (all clients) and those the dashboard sent, per second. */
interface Measured {
  redis: Rates;
  sent: Rates;
}

const total = (rates: Rates | undefined) =>
  rates === undefined ? undefined : [...rates.values()].reduce((a, b) => a + b, 0);
const scriptCalls = (rates: Rates) =>
  [...rates].reduce((n, [name, perSec]) => n + (SCRIPT_CALLS.has(name) ? perSec : 0), 0);

/** Calls per command from INFO commandstats (commands run by Lua scripts included). */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const match of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1] as string, Number(match[2]));
  }
  return calls;
}

/** Per second, by name, between two counts; `own` calls of a name are left out. */
function ratesBetween(
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
  own: Record<string, number> = {},
): Rates {
  const rates: Rates = new Map();
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0) - (own[name] ?? 0);
    if (delta !== 0) rates.set(name, delta / seconds);
  }
  return rates;
}

/**
 * Counts the commands of `durationMs`. The measurement's own INFO is left out: the first of its two calls is
 * counted between them (a command's statistics are updated after it ran), the second is not.
 */
async function measure(stats: Redis, counter: CommandCounter, durationMs: number): Promise<Measured> {
  const sentBefore = counter.counts();
  const before = await commandCalls(stats);
  const started = performance.now();
  await sleep(durationMs);
  const after = await commandCalls(stats);
  const seconds = (performance.now() - started) / 1000;
  return {
    redis: ratesBetween(before, after, seconds, { info: 1 }),
    sent: ratesBetween(sentBefore, counter.counts(), seconds),
  };
}

/** The mean of two measurements. */
function mean(a: Measured, b: Measured): Measured {
  const average = (x: Rates, y: Rates): Rates =>
    new Map(
      [...new Set([...x.keys(), ...y.keys()])].map((n) => [n, ((x.get(n) ?? 0) + (y.get(n) ?? 0)) / 2]),
    );
  return { redis: average(a.redis, b.redis), sent: average(a.sent, b.sent) };
}

/** Increments at `ratePerSec` until stopped, each to one of KEYS videos in turn. */
function steadyLoad(
  { cache }: DemoCacheHandle,
  ratePerSec: number,
): { stop(): Promise<{ sent: number; errors: number; firstError?: string }> } {
  let stopped = false;
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  const loop = (async () => {
    while (!stopped) {
      // Paced against the start, so a stall is caught up rather than lowering the rate.
      const due = Math.floor(((performance.now() - started) / 1000) * ratePerSec);
      while (sent < due) {
        const write: Promise<void> = cache
          .increment('video', `o1-${sent++ % KEYS}`, 'likes')
          .then(
            () => {},
            (error: unknown) => {
              errors++;
              firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
            },
          )
          .finally(() => inFlight.delete(write));
        inFlight.add(write);
      }
      await sleep(10);
    }
    await Promise.all(inFlight);
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { sent, errors, ...(firstError === undefined ? {} : { firstError }) };
    },
  };
}

/** The dashboard process, and the overview open in a page, started and stopped in the arms' order. */
class OperatorConsole {
  #dashboard: AppProcess | undefined;
  #page: SignedInPage | undefined;
  readonly #env: Record<string, string>;
  readonly #browser: Browser;

  /** `env`: the deployment's, with REDIS_URL the counting proxy's. */
  constructor(env: Record<string, string>, browser: Browser) {
    this.#env = env;
    this.#browser = browser;
  }

  /** Starts the dashboard with the apps' defaults (sampling every 2 s), on 127.0.0.1. */
  async startDashboard(): Promise<void> {
    this.#dashboard = await startApp('dashboard', {
      ...this.#env,
      DASHBOARD_USER: CREDENTIALS.user,
      DASHBOARD_PASSWORD: CREDENTIALS.password,
      HOST: '127.0.0.1',
    });
  }

  /** Opens the overview, signed in, and waits until it has drawn its charts and read its figures. */
  async openPage(): Promise<void> {
    if (!this.#dashboard) throw new Error('O1: the page needs the dashboard');
    this.#page = await signedInPage(this.#browser, {
      credentials: CREDENTIALS,
      viewport: { width: 1280, height: 900 },
      baseURL: `${this.#dashboard.url}/`,
    });
    const { page } = this.#page;
    const response = await page.goto('');
    if (response?.status() !== 200) throw new Error(`O1: the overview answered ${response?.status()}`);
    await waitFor(
      'O1: the overview draws its charts',
      async () =>
        Number(await page.locator('#lag-chart').getAttribute('data-points')) > 0 &&
        (await page.locator('#dirty').textContent()) !== '',
      30_000,
      100,
    );
  }

  async stopDashboard(): Promise<void> {
    await this.#page?.context.close();
    this.#page = undefined;
    await this.#dashboard?.stop();
    this.#dashboard = undefined;
  }
}

/** What the run measured: per phase and arm, and under load the two runs without the dashboard. */
interface Measurements {
  arms: Record<Phase, Partial<Record<Arm, Measured>>>;
  withoutUnderLoad: Measured[];
  load?: { sent: number; errors: number; firstError?: string };
}

async function run(ctx: BenchContext): Promise<Measurements> {
  const idleMs = ctx.plan.quick ? 5_000 : 30_000;
  const loadMs = ctx.plan.quick ? 5_000 : 15_000;
  const measured: Measurements = { arms: { idle: {}, load: {} }, withoutUnderLoad: [] };
  let server: RedisServer | undefined;
  let stats: Redis | undefined;
  let counter: CommandCounter | undefined;
  let worker: AppProcess | undefined;
  let writer: DemoCacheHandle | undefined;
  let browser: Browser | undefined;
  let operatorConsole: OperatorConsole | undefined;
  try {
    server = await startRedis(['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction']);
    const statsConnection = new Redis(server.port, '127.0.0.1');
    stats = statsConnection;
    const countingProxy = await startCommandCounter({ host: '127.0.0.1', port: server.port });
    counter = countingProxy;
    const env = {
      REDIS_URL: `redis://127.0.0.1:${server.port}`,
      DATABASE_URL: ctx.db.url,
      WB_PREFIX: `${ctx.prefix}-o1`,
    };
    browser = await launchChromium();
    worker = await startApp('worker', env);
    writer = createDemoCache(loadConfig(env, cacheConfigSpec), { info() {}, warn() {}, error() {} });
    await writer.cache.ready;
    const dashboard = new OperatorConsole({ ...env, REDIS_URL: countingProxy.url }, browser);
    operatorConsole = dashboard;

    const slice = async (phase: Phase, label: string, durationMs: number) => {
      ctx.progress(`O1: ${phase}, ${label}, ${durationMs / 1000} s`);
      return measure(statsConnection, countingProxy, durationMs);
    };
    const arms = async (phase: Phase, durationMs: number) => {
      measured.arms[phase].without = await slice(phase, ARM_LABELS.without, durationMs);
      await dashboard.startDashboard();
      await sleep(SETTLE_MS);
      measured.arms[phase].process = await slice(phase, ARM_LABELS.process, durationMs);
      await dashboard.openPage();
      await sleep(SETTLE_MS);
      measured.arms[phase].page = await slice(phase, ARM_LABELS.page, durationMs);
      await dashboard.stopDashboard();
    };

    await arms('idle', idleMs);
    const writes = steadyLoad(writer, RATE);
    try {
      // Every key read from the database once and cached: the load's steady state.
      await sleep(Math.max(SETTLE_MS, (KEYS / RATE) * 1000 + 1000));
      await arms('load', loadMs);
      await sleep(SETTLE_MS);
      const second = await slice('load', `${ARM_LABELS.without} again`, loadMs);
      const first = measured.arms.load.without;
      if (first) {
        measured.withoutUnderLoad = [first, second];
        measured.arms.load.without = mean(first, second);
      }
    } finally {
      measured.load = await writes.stop();
    }
  } finally {
    await operatorConsole?.stopDashboard();
    await browser?.close();
    await writer?.close();
    await worker?.stop();
    await counter?.close();
    stats?.disconnect();
    await server?.kill();
  }
  return measured;
}

export async function dashboardCost(ctx: BenchContext): Promise<CaseResult[]> {
  const { arms, withoutUnderLoad, load } = await run(ctx);

  const redisTotal = (phase: Phase, arm: Arm) => total(arms[phase][arm]?.redis);
  /** Redis's count with the dashboard, less its count without. */
  const redisAdded = (phase: Phase, arm: Arm) => {
    const base = redisTotal(phase, 'without');
    const measured = redisTotal(phase, arm);
    return base === undefined || measured === undefined ? undefined : measured - base;
  };
  // The commands a script call of the dashboard runs inside Redis, from idle with the page open, where
  // Redis's difference is exact: what it added, less what the dashboard sent, per script call it sent.
  const idlePage = arms.idle.page;
  const idleAdded = redisAdded('idle', 'page');
  const idleSent = total(idlePage?.sent);
  const idleScriptCalls = idlePage ? scriptCalls(idlePage.sent) : 0;
  const perScriptCall =
    idleAdded !== undefined && idleSent !== undefined && idleScriptCalls > 0
      ? (idleAdded - idleSent) / idleScriptCalls
      : undefined;
  /** The dashboard's own commands per second: what it sent, and what its script calls ran inside Redis. */
  const own = (phase: Phase, arm: Arm) => {
    const sent = arms[phase][arm]?.sent;
    if (!sent || perScriptCall === undefined) return undefined;
    return (total(sent) ?? 0) + scriptCalls(sent) * perScriptCall;
  };

  const fixed = (n: number | undefined) =>
    n === undefined ? '?' : Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1);
  const signed = (n: number | undefined) => (n === undefined ? '?' : `${n >= 0 ? '+' : ''}${fixed(n)}`);
  const phaseLabel = (phase: Phase) => (phase === 'idle' ? 'idle' : `load, ${RATE} increments/s`);
  const byCommand = (rates: Rates | undefined) =>
    [...(rates ?? [])]
      .sort((a, b) => b[1] - a[1])
      .map(([name, perSec]) => `${name} ${fixed(perSec)}`)
      .join(', ');
  const noise =
    withoutUnderLoad.length === 2
      ? `Redis's count without the dashboard under load, before and after it: ${withoutUnderLoad.map((m) => fixed(total(m.redis))).join(' and ')} cmds/s`
      : undefined;

  ctx.progress(
    `O1: Redis commands per second: every client's (INFO commandstats, scripts' commands included), and the dashboard's own (sent through a counting proxy, plus ${fixed(perScriptCall)} commands inside Redis per script call, measured at idle)\n${markdownTable(
      [
        'phase',
        `Redis: ${ARM_LABELS.without}`,
        `Redis: ${ARM_LABELS.process}`,
        `Redis: ${ARM_LABELS.page}`,
        'dashboard own: process',
        'dashboard own: with page',
      ],
      PHASES.map((phase) => [
        phaseLabel(phase),
        fixed(redisTotal(phase, 'without')),
        `${fixed(redisTotal(phase, 'process'))} (${signed(redisAdded(phase, 'process'))})`,
        `${fixed(redisTotal(phase, 'page'))} (${signed(redisAdded(phase, 'page'))})`,
        fixed(own(phase, 'process')),
        fixed(own(phase, 'page')),
      ]),
    )}\n${noise ?? ''}\nsent by the dashboard with the page open, idle: ${byCommand(arms.idle.page?.sent)}\nunder load: ${byCommand(arms.load.page?.sent)}`,
  );

  return PHASES.map((phase) => {
    const metrics: Record<string, number> = {};
    const put = (name: string, value: number | undefined) => {
      if (value !== undefined) metrics[name] = value;
    };
    for (const arm of ARMS)
      put(`redis${arm[0]?.toUpperCase()}${arm.slice(1)}CommandsPerSec`, redisTotal(phase, arm));
    put('ownProcessCommandsPerSec', own(phase, 'process'));
    put('ownWithPageCommandsPerSec', own(phase, 'page'));
    put('commandsPerScriptCall', perScriptCall);
    if (phase === 'load') {
      for (const [i, m] of withoutUnderLoad.entries())
        put(`redisWithout${i + 1}CommandsPerSec`, total(m.redis));
    }
    const withPage = own(phase, 'page');
    return {
      id: `O1 (${phase})`,
      title: `Redis commands/s of the dashboard, ${phaseLabel(phase)}: its process alone, and with the overview open`,
      ...(withPage === undefined ? {} : { rate: withPage, rateUnit: 'cmds/s (with page)' }),
      notes: [
        `the dashboard's own: ${fixed(own(phase, 'process'))} cmds/s (process), ${fixed(withPage)} (with the overview open)`,
        `Redis in all: ${ARMS.map((arm) => `${fixed(redisTotal(phase, arm))} ${ARM_LABELS[arm]}`).join(', ')}`,
        ...(phase === 'idle'
          ? [
              `sent with the page open: ${byCommand(arms.idle.page?.sent)}; ${fixed(perScriptCall)} per script call`,
            ]
          : []),
        ...(phase === 'load' && noise ? [noise] : []),
        ...(phase === 'load' && load
          ? [`${load.sent} increments, ${load.errors} failed${load.firstError ? `: ${load.firstError}` : ''}`]
          : []),
      ],
      metrics,
    };
  });
}
