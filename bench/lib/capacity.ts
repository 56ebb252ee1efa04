// The capacity model of S1 (scale-out): from the CPU each component spends per key flushed, how many keys per
// second one core of each sustains, and how many worker processes, Redis masters and PostgreSQL cores a given
// rate of distinct dirty keys needs. CPU per key does not depend on how many cores the benchmark machine has,
// which raw keys/s on a shared two-core machine does. Pure.

/** One server or process over one timed drain: the CPU it used and the keys it handled. */
export interface CpuShare {
  /** CPU time, in microseconds. */
  cpuUs: number;
  /** Keys it handled: for a Redis master, the keys of the shards it serves. */
  keys: number;
}

/** What a measurement costs per key; the inputs of {@link capacityRates} and {@link planCapacity}. */
export interface CostPerKey {
  /** CPU of all worker processes together, per key flushed, µs. */
  workerUsPerKey: number;
  /** CPU of the busiest Redis master per key it served, µs: the master that saturates first. */
  redisUsPerKey: number;
  /** CPU of PostgreSQL per row written, µs. */
  postgresUsPerRow: number;
  /** Rows written per key flushed (1 when every flush updates one row). */
  rowsPerKey: number;
}

/** What one core of each sustains, fully busy. */
export interface CapacityRates {
  keysPerWorkerCore: number;
  keysPerRedisCore: number;
  rowsPerPostgresCore: number;
}

export interface CapacityPlan {
  /** Worker CPU the rate needs, in cores, at the utilization asked. */
  workerCores: number;
  /** Worker processes: one Node.js process runs its JavaScript on about one core. */
  workerProcesses: number;
  /** Redis masters: a master runs its commands on one core, so one master per core needed. */
  masters: number;
  /** PostgreSQL CPU the rate needs, in cores, at the utilization asked. */
  postgresCores: number;
}

const US_PER_S = 1e6;

/** The costliest per-key CPU among `shares` (the busiest Redis master), in µs; 0 without shares. */
export function busiestUsPerKey(shares: readonly CpuShare[]): number {
  return shares.reduce((max, s) => (s.keys > 0 ? Math.max(max, s.cpuUs / s.keys) : max), 0);
}

/** Each share's CPU per key of its own, µs (NaN for a share that handled no key). */
export function usPerKey(share: CpuShare): number {
  return share.keys > 0 ? share.cpuUs / share.keys : Number.NaN;
}

/** Several measurements as one: CPU and keys summed, share by share (same order, same length). */
export function poolShares(rounds: readonly (readonly CpuShare[])[]): CpuShare[] {
  const first = rounds[0];
  if (!first) return [];
  return first.map((_, i) => ({
    cpuUs: rounds.reduce((n, r) => n + (r[i]?.cpuUs ?? 0), 0),
    keys: rounds.reduce((n, r) => n + (r[i]?.keys ?? 0), 0),
  }));
}

export function capacityRates(cost: CostPerKey): CapacityRates {
  const per = (us: number) => (us > 0 ? US_PER_S / us : Number.POSITIVE_INFINITY);
  return {
    keysPerWorkerCore: per(cost.workerUsPerKey),
    keysPerRedisCore: per(cost.redisUsPerKey),
    rowsPerPostgresCore: per(cost.postgresUsPerRow),
  };
}

/**
 * What `keysPerSec` distinct dirty keys per second need, each component kept at `utilization` of its cores
 * (headroom for bursts, the sweep, a failover's catch-up).
 */
export function planCapacity(cost: CostPerKey, keysPerSec: number, utilization = 0.7): CapacityPlan {
  if (!(utilization > 0 && utilization <= 1))
    throw new RangeError(`utilization must be in (0, 1], got ${JSON.stringify(utilization)}`);
  if (!(keysPerSec >= 0)) throw new RangeError(`keysPerSec must be ≥ 0, got ${JSON.stringify(keysPerSec)}`);
  const cores = (usPerUnit: number, unitsPerSec: number) =>
    (unitsPerSec * usPerUnit) / US_PER_S / utilization;
  const workerCores = cores(cost.workerUsPerKey, keysPerSec);
  return {
    workerCores,
    workerProcesses: wholeUnits(workerCores),
    masters: wholeUnits(cores(cost.redisUsPerKey, keysPerSec)),
    postgresCores: cores(cost.postgresUsPerRow, keysPerSec * cost.rowsPerKey),
  };
}

/** At least one; rounded up, but a product that lands a hair above a whole number (2.0000000001) stays whole. */
function wholeUnits(cores: number): number {
  return Math.max(1, Math.ceil(cores - 1e-9));
}
