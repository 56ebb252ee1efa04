import { decodeRecord, storedToSqlText } from '../schema/codec.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import type { DeleteRow, DeltaRow, UpsertRow } from '../store/store.js';
import {
  type AppendedKey,
  appendedKey,
  EncodedFields,
  type PlannedRun,
  type SnapshotRun,
} from './append-plan.js';

/*
 * Pure parts of a flush: turning Redis snapshots into rows, and isolating the row that makes a batched
 * statement fail. No I/O here; unit-tested without servers.
 */

export interface SnapshotItem {
  key: string;
  entity: string;
  /** The canonical id. */
  id: string;
  /**
   * The key's hash when it is dirty (see `lua/snapshot.lua`); empty when it is clean or gone. For an append
   * key, its head: `_v`, `_fv`, `_m`.
   */
  hash: Map<string, string>;
  /** An append key's runs of events, oldest first. */
  runs?: readonly SnapshotRun[];
}

export interface EntityPlan {
  upserts: UpsertRow[];
  /** Keys held partly (made by `add` alone): what was added to their counters. */
  deltas: DeltaRow[];
  deletes: DeleteRow[];
  /** An append entity's events, in runs, key by key in order. */
  appends: PlannedRun[];
  /** An append entity's keys: what each acknowledges. */
  appendedKeys: AppendedKey[];
  /** Data key of each row's id, for the acknowledgement. */
  keys: Map<string, string>;
}

/** A key's row, its fields encoded from its hash (see {@link EncodedFields}). */
class EncodedUpsertRow extends EncodedFields implements UpsertRow {
  readonly id: string;
  readonly version: number;

  constructor(entity: ResolvedEntity, id: string, version: number, hash: ReadonlyMap<string, string>) {
    super(
      entity.fields.map((f) => storedToSqlText(f, hash.get(f.name))),
      () => decodeRecord(entity, hash),
    );
    this.id = id;
    this.version = version;
  }
}

/** Groups the dirty snapshots by entity into upsert, delta and delete rows; clean and gone keys are left out. */
export function planFlush(
  items: readonly SnapshotItem[],
  entities: ReadonlyMap<string, ResolvedEntity>,
): Map<string, EntityPlan> {
  const plans = new Map<string, EntityPlan>();
  for (const item of items) {
    if (item.hash.size === 0) continue;
    const entity = entities.get(item.entity);
    if (!entity) continue;
    let plan = plans.get(item.entity);
    if (!plan) {
      plan = {
        upserts: [],
        deltas: [],
        deletes: [],
        appends: [],
        appendedKeys: [],
        keys: new Map(),
      };
      plans.set(item.entity, plan);
    }
    if (plan.keys.has(item.id)) continue;
    plan.keys.set(item.id, item.key);
    if (entity.append) {
      const { key, runs } = appendedKey(entity, item.id, item.hash, item.runs ?? []);
      plan.appendedKeys.push(key);
      for (const run of runs) plan.appends.push(run);
      continue;
    }
    const version = Number(item.hash.get('_v'));
    if (item.hash.has('_p')) plan.deltas.push({ id: item.id, version, sums: deltaSums(entity, item.hash) });
    else if (item.hash.has('_d')) plan.deletes.push({ id: item.id, version });
    else {
      plan.upserts.push(new EncodedUpsertRow(entity, item.id, version, item.hash));
    }
  }
  return plans;
}

/** A partial key's snapshot (`~<field>`, sum: lua/snapshot.lua) as sums by counter, 0 for the others. */
export function deltaSums(entity: ResolvedEntity, hash: ReadonlyMap<string, string>): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const field of entity.fields) {
    if (field.kind === 'counter') sums[field.name] = Number(hash.get(`~${field.name}`) ?? 0);
  }
  return sums;
}

export interface RowFailure<R> {
  row: R;
  error: unknown;
}

/**
 * Writes `rows` with one statement; when it fails for a reason other than the database being unreachable,
 * splits the rows in halves and tries each, down to single rows, so only the bad rows fail. A batch with one
 * bad row costs about 2·log2(n) extra statements. An unreachable database is thrown at once: splitting
 * would only hammer it.
 */
export function writeIsolatingFailures<R>(
  rows: readonly R[],
  write: (rows: readonly R[]) => Promise<void>,
  isUnavailable: (error: unknown) => boolean,
): Promise<RowFailure<R>[]> {
  if (rows.length === 0) return Promise.resolve([]);
  return writeOrIsolate(
    () => write(rows),
    () => rows,
    write,
    isUnavailable,
  );
}

/**
 * {@link writeIsolatingFailures} for runs of events: one statement of the runs; when it fails for a reason other
 * than the database being unreachable, the same with their rows, split, so only the refused events fail.
 */
export function writeRunsIsolatingFailures<Row, Run extends { readonly rows: readonly Row[] }>(
  runs: readonly Run[],
  writeRuns: (runs: readonly Run[]) => Promise<void>,
  writeRows: (rows: readonly Row[]) => Promise<void>,
  isUnavailable: (error: unknown) => boolean,
): Promise<RowFailure<Row>[]> {
  if (runs.length === 0) return Promise.resolve([]);
  return writeOrIsolate(
    () => writeRuns(runs),
    () => runs.flatMap((run) => run.rows),
    writeRows,
    isUnavailable,
  );
}

/** `write`; when it fails, not for want of the database, `rows()` again by {@link isolate}. */
async function writeOrIsolate<R>(
  write: () => Promise<void>,
  rows: () => readonly R[],
  writeRows: (rows: readonly R[]) => Promise<void>,
  isUnavailable: (error: unknown) => boolean,
): Promise<RowFailure<R>[]> {
  try {
    await write();
    return [];
  } catch (error) {
    if (isUnavailable(error)) throw error;
    return isolate(rows(), error, writeRows, isUnavailable);
  }
}

/** After `rows` failed together with `error`: each half on its own, down to the single rows that fail. */
async function isolate<R>(
  rows: readonly R[],
  error: unknown,
  write: (rows: readonly R[]) => Promise<void>,
  isUnavailable: (error: unknown) => boolean,
): Promise<RowFailure<R>[]> {
  if (rows.length === 1) return [{ row: rows[0] as R, error }];
  const middle = Math.ceil(rows.length / 2);
  const left = await writeIsolatingFailures(rows.slice(0, middle), write, isUnavailable);
  const right = await writeIsolatingFailures(rows.slice(middle), write, isUnavailable);
  return [...left, ...right];
}

/** Delay before the next probe of an unreachable database: doubling from `base`, capped at `max`, with jitter. */
export function outageBackoff(
  consecutiveFailures: number,
  base: number,
  max: number,
  random = Math.random,
): number {
  const exp = Math.min(max, base * 2 ** Math.max(0, consecutiveFailures - 1));
  return Math.round(exp * (0.75 + random() * 0.5));
}
