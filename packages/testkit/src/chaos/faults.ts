// The chaos run's faults: flush worker processes SIGKILLed and replaced, workers killed right after a flush
// committed (before its acknowledgement), and PostgreSQL cut through the TCP proxy every worker goes through.
import { setTimeout as sleep } from 'node:timers/promises';
import type { PgProxy } from '../pg-proxy.ts';
import {
  spawnWorkerProcess,
  type WorkerEvent,
  type WorkerProcess,
  type WorkerProcessConfig,
} from '../worker-process.ts';
import { bump, type Counts } from './counts.ts';
import type { RecoveryTracker } from './recovery-tracker.ts';
import { type WorkerLogs, workerLogs } from './worker-logs.ts';

/** How long a hung worker gets to commit once armed (ready, and its turn come) before it is killed anyway. */
const COMMIT_WAIT_MS = 8000;
/** How often the wait for a commit looks at the clock and the outage. */
const COMMIT_POLL_MS = 50;
/** The longest delay a Node timer takes (a longer one fires at once). */
const LONGEST_TIMER_MS = 2 ** 31 - 1;
/** How long a hung worker gets to start. */
const READY_WAIT_MS = 30_000;

/** A worker whose store hangs right after a commit of one kind of statement. */
interface HungWorker {
  store: WorkerProcessConfig['store'];
  /** What it reports once its statement committed. */
  committed: WorkerEvent;
  /** The fault's name in the report, when it committed before the kill. */
  fault: string;
}

/**
 * One kind of statement after another: the sums of `add`, the inserts of `append`, the upserts of the other
 * writes. A replay of the flush the kill cut short must apply none of them twice.
 */
const HUNG_WORKERS: HungWorker[] = [
  { store: 'hang-after-add', committed: 'add-committed', fault: 'kill-after-add-commit' },
  { store: 'hang-after-append', committed: 'append-committed', fault: 'kill-after-append-commit' },
  { store: 'hang-after-upsert', committed: 'upsert-committed', fault: 'kill-after-commit' },
];

/** The flush worker processes of a run: a fixed number alive, each killed one replaced. */
export class WorkerPool {
  readonly config: WorkerProcessConfig;
  readonly #children = new Set<WorkerProcess>();
  /** Every worker process of the run, the hung ones too: their output is read for {@link logs}. */
  readonly #everyone: WorkerProcess[] = [];

  constructor(config: WorkerProcessConfig, size: number) {
    this.config = config;
    for (let i = 0; i < size; i++) this.spawn();
  }

  spawn(): WorkerProcess {
    const child = spawnWorkerProcess(this.config);
    this.#children.add(child);
    this.#everyone.push(child);
    child.process.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** A worker whose store hangs after a commit (see {@link HUNG_WORKERS}): not one of the pool's live ones. */
  spawnHung(kind: HungWorker): WorkerProcess {
    const child = spawnWorkerProcess({ ...this.config, store: kind.store, hangAfterGo: true });
    this.#everyone.push(child);
    return child;
  }

  /** What every worker process of the run logged so far (read once they have exited, it is all of it). */
  logs(): WorkerLogs {
    return workerLogs(this.#everyone.map((child) => child.output()));
  }

  live(): WorkerProcess[] {
    return [...this.#children].filter((child) => child.process.exitCode === null);
  }

  /**
   * Stops every worker (its jobs finish); one that does not stop within `timeoutMs` is killed. Resolves with
   * the flush counters of those that stopped, summed (a killed worker's die with it).
   */
  async stopAll(timeoutMs: number): Promise<Counts> {
    const total: Counts = {};
    await Promise.all(
      [...this.#children].map((child) =>
        child.stop(timeoutMs).then(
          (counters) => {
            for (const [name, value] of Object.entries(counters)) bump(total, name, value);
          },
          () => child.kill(),
        ),
      ),
    );
    return total;
  }
}

/** Whether PostgreSQL is cut at the moment. */
interface Outage {
  active(): boolean;
}

export interface FaultSchedule {
  durationMs: number;
  killEveryMs: number;
  outageMs: number;
  /** When the outage starts, as a fraction of `durationMs`. */
  outageAt: number;
}

export interface Faults {
  schedule: FaultSchedule;
  pool: WorkerPool;
  proxy: PgProxy;
  tracker: RecoveryTracker;
  /** Faults injected, by kind. */
  counts: Counts;
  log(line: string): void;
  stopped(): boolean;
}

/**
 * Injects the faults from `start` until `faults.stopped()`: the outage on its own clock; a kill every
 * `killEveryMs`, every third one of a worker hung right after a commit (the others SIGKILL a worker of the
 * pool). A hung worker starts one kill ahead and flushes as any other until its turn (starting takes seconds
 * on a busy machine); then it is armed, and killed as soon as its next statement of its kind commits. During
 * the outage nothing commits: its turn passes to the first kill after the outage, and one the outage cuts off
 * while it waits is killed at once, its kind tried again by the next.
 */
export async function runFaults(faults: Faults, start: number): Promise<void> {
  const outage = scheduleOutage(faults, start);
  let kills = 0;
  let hungSoFar = 0;
  let hung: { worker: WorkerProcess; kind: HungWorker } | undefined;
  while (!faults.stopped()) {
    if (!hung && (kills + 1) % 3 === 0) {
      const kind = HUNG_WORKERS[hungSoFar++ % HUNG_WORKERS.length] as HungWorker;
      hung = { worker: faults.pool.spawnHung(kind), kind };
    }
    await sleep(faults.schedule.killEveryMs);
    if (faults.stopped()) break;
    kills++;
    if (hung && !outage.active()) {
      if (!(await killHungWorker(faults, hung.worker, hung.kind, outage))) hungSoFar--;
      hung = undefined;
    } else {
      await killRandomWorker(faults);
    }
  }
  // One started for a turn the run did not reach: it never hung.
  await hung?.worker.kill();
}

/** Cuts PostgreSQL at `outageAt` of the run for `outageMs`, whatever the kill loop is waiting for. */
function scheduleOutage(faults: Faults, start: number): Outage {
  const { durationMs, outageMs, outageAt } = faults.schedule;
  let active = false;
  if (outageMs > 0) {
    const cut = () => {
      active = true;
      faults.tracker.outage(Date.now(), Date.now() + outageMs);
      faults.proxy.cut();
      bump(faults.counts, 'pg-outage');
      faults.log(`PostgreSQL cut for ${outageMs} ms`);
      setTimeout(() => {
        faults.proxy.restore();
        active = false;
        faults.log('PostgreSQL restored');
      }, outageMs).unref();
    };
    setTimeout(cut, Math.max(0, start + durationMs * outageAt - Date.now())).unref();
  }
  return { active: () => active };
}

/**
 * Arms a worker whose store hangs after a commit, and kills it once it committed (or after a wait without, or
 * when the outage starts). Returns whether it committed.
 */
async function killHungWorker(
  faults: Faults,
  worker: WorkerProcess,
  hung: HungWorker,
  outage: Outage,
): Promise<boolean> {
  const committed = await committedWithin(worker, hung.committed, outage);
  const fault = committed ? hung.fault : 'kill-hung-worker-before-commit';
  await faults.tracker.kill(fault, () => worker.kill());
  bump(faults.counts, fault);
  faults.log(`${hung.store} worker killed (committed: ${committed})`);
  return committed;
}

/**
 * Arms `worker` once it is ready, and resolves whether it reports `event` within {@link COMMIT_WAIT_MS} of
 * that, and before the outage starts.
 */
async function committedWithin(worker: WorkerProcess, event: WorkerEvent, outage: Outage): Promise<boolean> {
  let armed = false;
  let outcome: boolean | undefined;
  worker.waitFor('ready', READY_WAIT_MS).then(
    () => {
      worker.go();
      armed = true;
    },
    () => {
      outcome = false;
    },
  );
  // Settles when the worker reports the event, or exits (the kill that follows, at the latest).
  worker.waitFor(event, LONGEST_TIMER_MS).then(
    () => {
      outcome = true;
    },
    () => {
      outcome ??= false;
    },
  );
  for (let waited = 0; outcome === undefined && waited < COMMIT_WAIT_MS && !outage.active(); ) {
    await sleep(COMMIT_POLL_MS);
    if (armed) waited += COMMIT_POLL_MS;
  }
  return outcome === true;
}

/** SIGKILLs a live worker of the pool and starts another in its place. */
async function killRandomWorker(faults: Faults): Promise<void> {
  const live = faults.pool.live();
  const victim = live[Math.floor(Math.random() * live.length)];
  if (victim) {
    await faults.tracker.kill('worker-sigkill', () => victim.kill());
    bump(faults.counts, 'worker-sigkill');
  }
  faults.pool.spawn();
  faults.log('worker SIGKILLed and replaced');
}
