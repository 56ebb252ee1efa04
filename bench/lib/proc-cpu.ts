// PostgreSQL's CPU time, read from /proc: the benchmark's servers share the machine's two cores with the load
// generator, so the CPU each case costs PostgreSQL belongs beside what it costs the app and Redis.
import { readdir, readFile } from 'node:fs/promises';

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`, 100 on every Linux this runs on). */
const CLOCK_TICKS = 100;

/** One /proc/<pid>/stat line: the command name and the CPU fields, in ticks. */
export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** utime + stime: the process itself. */
  own: number;
  /** cutime + cstime: its children that exited and were waited for. */
  children: number;
}

export function parseProcStat(line: string): ProcStat | undefined {
  // The command name is in parentheses and may itself hold spaces or parentheses: split at the last ')'.
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = line.slice(close + 2).split(' ');
  const field = (n: number) => Number(rest[n - 3]); // rest[0] is field 3 of proc(5)
  return {
    pid: Number(line.slice(0, open).trim()),
    comm: line.slice(open + 1, close),
    ppid: field(4),
    own: field(14) + field(15),
    children: field(16) + field(17),
  };
}

/**
 * CPU time of every PostgreSQL process on this machine, in microseconds: the live processes' own time, plus
 * the postmaster's waited-for children (backends that exited, so their time is not lost). Undefined where
 * PostgreSQL does not run locally (or /proc is missing): the column is then left out.
 */
export function postgresCpuTicks(stats: readonly ProcStat[]): number | undefined {
  const postgres = stats.filter((s) => s.comm === 'postgres');
  if (postgres.length === 0) return undefined;
  const pids = new Set(postgres.map((s) => s.pid));
  const postmasters = postgres.filter((s) => !pids.has(s.ppid));
  return postgres.reduce((n, s) => n + s.own, 0) + postmasters.reduce((n, s) => n + s.children, 0);
}

/** {@link postgresCpuTicks} over this machine's /proc, in microseconds. */
export async function postgresCpuMicros(): Promise<number | undefined> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const stats = await Promise.all(
    pids.map((pid) => readFile(`/proc/${pid}/stat`, 'utf8').then(parseProcStat, () => undefined)),
  );
  const ticks = postgresCpuTicks(stats.filter((s): s is ProcStat => s !== undefined));
  return ticks === undefined ? undefined : (ticks * 1e6) / CLOCK_TICKS;
}

/** The machine's CPU time from the `cpu` line of /proc/stat, in ticks summed over all cores. */
export interface MachineTicks {
  /** Every state but idle and iowait. */
  busy: number;
  total: number;
  cores: number;
}

export function parseMachineStat(text: string): MachineTicks | undefined {
  const lines = text.split('\n');
  const fields = lines[0]?.split(/\s+/);
  if (fields?.[0] !== 'cpu') return undefined;
  // user nice system idle iowait irq softirq steal; guest time is already inside user and nice.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.slice(1, 9).map(Number);
  const values = [user, nice, system, idle, iowait, irq, softirq, steal].map((v) => v ?? 0);
  if (values.some((v) => !Number.isFinite(v))) return undefined;
  const total = values.reduce((a, b) => a + b, 0);
  const cores = lines.filter((l) => /^cpu\d+\s/.test(l)).length;
  return { busy: total - (values[3] as number) - (values[4] as number), total, cores };
}

/**
 * How busy the whole machine was between two readings, in percent of one core (200 % is two cores fully
 * busy): every process counts, the servers, the worker and the load generator alike. It tells a run that
 * waits (cores idle) from one that is short of CPU.
 */
export function machineBusyPercent(from: MachineTicks, to: MachineTicks): number {
  const total = to.total - from.total;
  return total > 0 ? ((to.busy - from.busy) / total) * to.cores * 100 : 0;
}

/** {@link parseMachineStat} of this machine's /proc/stat; undefined where there is none. */
export async function machineTicks(): Promise<MachineTicks | undefined> {
  return readFile('/proc/stat', 'utf8').then(parseMachineStat, () => undefined);
}

/**
 * CPU time of one process (all its threads) in microseconds, from /proc/<pid>/stat; undefined when it is gone
 * or there is no /proc. Resolution: one clock tick (10 ms).
 */
export async function processCpuMicros(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').then(parseProcStat, () => undefined);
  return stat === undefined ? undefined : (stat.own * 1e6) / CLOCK_TICKS;
}
