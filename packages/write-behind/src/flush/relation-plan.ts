import { idFromColumns, keyColumnsOf } from '../schema/id-codec.js';
import { type ForeignKey, foreignKeyValues, isOrdered } from '../schema/relations.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import { type KeyState, keysByShard } from './key-states.js';
import type { EntityPlan } from './plan.js';

/*
 * The pure part of flushing related rows (see the package README, "Relations"): which parents a batch's child
 * rows need, which of those rows must wait for a parent's pending flush, and what a refused row's message says
 * about the parent it lacks or the children that keep it. No I/O; unit-tested without servers. The flush
 * reads the parents' states (`key-states.ts`) and writes by `ResolvedEntity.flushOrder`.
 */

/** Where a key lives: its shard and data key. */
export type Locate = (entity: string, id: string) => { shard: number; key: string };

/** A parent row a child row needs, written by the cache. */
export interface ParentRef {
  fk: ForeignKey;
  entity: string;
  /** The parent's canonical id. */
  id: string;
  shard: number;
  key: string;
}

/**
 * The parents (of entities the cache writes) of one child row: from its key and, when known, its fields as
 * SQL text in the entity's field order (a row of sums alone has none: only keys made of its key parts count).
 */
export function parentRefs(
  entity: ResolvedEntity,
  id: string,
  fields: readonly (string | null)[] | undefined,
  entities: ReadonlyMap<string, ResolvedEntity>,
  locate: Locate,
): ParentRef[] {
  const refs: ParentRef[] = [];
  let keyColumns: string[] | undefined;
  for (const fk of entity.parents) {
    if (!isOrdered(fk)) continue;
    keyColumns ??= keyColumnsOf(entity, id);
    const values = foreignKeyValues(fk, keyColumns, fields);
    const parent = entities.get(fk.parentEntity);
    if (!values || !parent) continue;
    const parentId = idFromColumns(parent, values);
    refs.push({ fk, entity: parent.name, id: parentId, ...locate(parent.name, parentId) });
  }
  return refs;
}

/** A batch's child rows, by data key, and the parents they need. */
export interface BatchParents {
  /** Each child key's parents. */
  refs: Map<string, ParentRef[]>;
  /** Parent keys the batch does not write (or deletes): their state must be read, by shard. */
  toRead: Map<number, string[]>;
  /** The keys the batch writes (not deletes): their rows go before their children's. */
  written: Set<string>;
}

/**
 * The parents of the rows of `plans` whose entities have ordered parents; `undefined` when none has (the
 * common case, which then costs nothing more).
 */
export function batchParents(
  plans: ReadonlyMap<string, EntityPlan>,
  entities: ReadonlyMap<string, ResolvedEntity>,
  locate: Locate,
): BatchParents | undefined {
  const children = [...plans.keys()].filter((name) => entities.get(name)?.parents.some(isOrdered));
  if (children.length === 0) return undefined;
  const written = new Set<string>();
  for (const plan of plans.values()) {
    for (const row of [...plan.upserts, ...plan.deltas]) written.add(plan.keys.get(row.id) as string);
  }
  const refs = new Map<string, ParentRef[]>();
  const add = (entity: ResolvedEntity, plan: EntityPlan, id: string, fields?: readonly (string | null)[]) => {
    const found = parentRefs(entity, id, fields, entities, locate);
    if (found.length === 0) return;
    const key = plan.keys.get(id) as string;
    refs.set(key, [...(refs.get(key) ?? []), ...found]);
  };
  for (const name of children) {
    const entity = entities.get(name) as ResolvedEntity;
    const plan = plans.get(name) as EntityPlan;
    for (const row of plan.upserts) add(entity, plan, row.id, row.sqlTexts);
    for (const row of plan.deltas) add(entity, plan, row.id);
    for (const run of plan.appends) for (const row of run.rows) add(entity, plan, row.id, row.sqlTexts);
  }
  const toRead = keysByShard([...refs.values()].flat().filter((ref) => !written.has(ref.key)));
  return { refs, toRead, written };
}

/**
 * Whether a parent's state keeps a child row waiting: the parent has a flush pending and none of it was ever
 * acknowledged (a new record, or one Redis made without reading the database), so its row may not be in the
 * database yet. A parent flushed before is not waited for, pending or not: its row is there (a hot parent
 * would otherwise keep its children waiting for ever), and if its pending write is a delete, the child's row
 * lands first and the database refuses the delete, which then names the child (a delete waits only for its
 * children's pending deletes: see {@link holdsParentDelete}, so neither waits for the other). A parent that
 * was deleted and made again looks flushed before; its child's write then fails on the foreign key, and the
 * flush finds the parent pending (see {@link isPending}).
 */
export function keepsChildWaiting(state: KeyState | undefined): boolean {
  return state?.dirty === true && !state.flushedBefore;
}

/** Whether a key has writes the database lacks: after a refusal on a foreign key, its flush may fix it. */
export function isPending(state: KeyState | undefined): boolean {
  return state?.dirty === true;
}

/**
 * Whether a row whose delete the database refused has been written again since (its hash holds a record, not
 * a delete): its next flush writes that record instead, so the delete waits rather than spend an attempt.
 */
export function writtenSinceDelete(state: KeyState | undefined): boolean {
  return state?.present === true && !state.deleted;
}

/** Whether a child row keeps its parent's delete waiting: its own delete is pending. */
export function holdsParentDelete(state: KeyState | undefined): boolean {
  return state?.dirty === true && state.deleted;
}

/**
 * The child keys of a batch that wait for a parent: one whose parent the batch does not write and whose state
 * {@link keepsChildWaiting}, or which waits itself. A parent the batch writes goes first (or, for an entity
 * that is its own parent, in the same statement), so its children need not wait. Entities are taken parents
 * first, so a waiting parent holds back its children in the same batch.
 */
export function waitingChildren(
  parents: BatchParents,
  states: ReadonlyMap<string, KeyState>,
  entities: ReadonlyMap<string, ResolvedEntity>,
  plans: ReadonlyMap<string, EntityPlan>,
): Set<string> {
  const waiting = new Set<string>();
  const blocks = (ref: ParentRef) =>
    waiting.has(ref.key) || (!parents.written.has(ref.key) && keepsChildWaiting(states.get(ref.key)));
  const byOrder = [...plans.keys()]
    .map((name) => entities.get(name) as ResolvedEntity)
    .sort((a, b) => a.flushOrder - b.flushOrder);
  for (const entity of byOrder) {
    const plan = plans.get(entity.name) as EntityPlan;
    const keys = [...new Set(plan.keys.values())].filter((key) => parents.refs.has(key));
    // Rows of an entity that is its own parent may wait for one another: until nothing changes.
    for (let changed = true; changed; ) {
      changed = false;
      for (const key of keys) {
        if (waiting.has(key)) continue;
        if ((parents.refs.get(key) as ParentRef[]).some(blocks)) {
          waiting.add(key);
          changed = true;
        }
      }
    }
  }
  return waiting;
}

/** Takes the rows of `keys` (data keys) out of `plan`: they are neither written nor acknowledged now. */
export function withoutKeys(plan: EntityPlan, keys: ReadonlySet<string>): EntityPlan {
  const keep = (id: string) => !keys.has(plan.keys.get(id) as string);
  return {
    ...plan,
    upserts: plan.upserts.filter((row) => keep(row.id)),
    deltas: plan.deltas.filter((row) => keep(row.id)),
    deletes: plan.deletes.filter((row) => keep(row.id)),
    appends: plan.appends.filter((row) => keep(row.id)),
    appendedKeys: plan.appendedKeys.filter((row) => keep(row.id)),
  };
}

/** Most child rows a refused delete's message names, per foreign key. */
export const CHILDREN_NAMED = 5;

/** A parent as a message names it: an entity and its id, or a table and its key columns. */
export function describeParent(fk: ForeignKey, values: readonly string[], parentId?: string): string {
  if (fk.parentEntity !== undefined && parentId !== undefined) {
    return `${fk.parentEntity} ${JSON.stringify(parentId)}`;
  }
  return `table "${fk.parent.table}" (${fk.parent.columns.map((c, i) => `${c} = ${JSON.stringify(values[i])}`).join(', ')})`;
}

/**
 * The reason of a row refused for a parent that is neither in the database nor pending in the cache: the
 * database's own message, then the parent named.
 */
export function missingParentMessage(
  entity: string,
  databaseMessage: string,
  missing: readonly { fk: ForeignKey; values: readonly string[]; parentId?: string }[],
): string {
  const named = missing.map(
    ({ fk, values, parentId }) =>
      `${describeParent(fk, values, parentId)} (${entity}.${fk.name}: column${fk.child.columns.length > 1 ? 's' : ''} ${fk.child.columns.join(', ')})`,
  );
  const one = named.length === 1;
  return `${databaseMessage}; its parent${one ? '' : 's'} ${named.join(' and ')} ${one ? 'is' : 'are'} neither in the database nor pending in the cache`;
}

/**
 * The reason of a delete refused because rows still point at the row, none of them with a write pending in
 * the cache: the database's own message, then those rows named (up to {@link CHILDREN_NAMED} per foreign key,
 * then "..." when `rows` holds more: look up one more than that).
 */
export function blockingChildrenMessage(
  databaseMessage: string,
  blocking: readonly { fk: ForeignKey; rows: readonly string[] }[],
): string {
  const named = blocking.map(({ fk, rows }) => {
    const who = fk.childEntity ?? `table "${fk.child.table}"`;
    // Asked for one more than it names: "..." only when there are more.
    const more = rows.length > CHILDREN_NAMED ? ', ...' : '';
    const shown = rows.slice(0, CHILDREN_NAMED).map((r) => JSON.stringify(r));
    return `${who} ${shown.join(', ')}${more} (through ${fk.childModel}.${fk.name})`;
  });
  return `${databaseMessage}; rows still point at it with no delete pending in the cache: ${named.join('; ')} (delete or move them first)`;
}
