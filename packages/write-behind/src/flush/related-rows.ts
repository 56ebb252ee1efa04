import type { Context } from '../context.js';
import { dataKey, shardOf } from '../keys.js';
import { idFromColumns, keyColumnsOf } from '../schema/id-codec.js';
import { type ForeignKey, foreignKeyValues } from '../schema/relations.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import { type KeyState, keysByShard, readKeyStates } from './key-states.js';
import type { EntityPlan } from './plan.js';
import {
  batchParents,
  blockingChildrenMessage,
  CHILDREN_NAMED,
  holdsParentDelete,
  isPending,
  type Locate,
  missingParentMessage,
  waitingChildren,
  writtenSinceDelete,
} from './relation-plan.js';

/** PostgreSQL's SQLSTATE for a row that breaks a foreign key. */
export const FOREIGN_KEY_VIOLATION = '23503';

/** A parent a refused row names: its key's values, and where the cache would hold it when it writes it. */
interface ParentCandidate {
  fk: ForeignKey;
  values: string[];
  parentId?: string;
  shard?: number;
  key?: string;
}

/** Rows that point at a row whose delete the database refused, through one foreign key. */
interface Blocking {
  fk: ForeignKey;
  /** Their ids (or key columns joined by `/`, for a table the cache does not write). */
  rows: string[];
  refs: { shard: number; key: string }[];
}

/** A row the database refused, as `RelatedRows.judge` looks at it. */
export interface RefusedRow {
  entity: ResolvedEntity;
  /** Its data key. */
  key: string;
  id: string;
  /** `write`: an upsert, a sum or an event; `delete`: a delete. */
  kind: 'write' | 'delete';
  /** Its fields as SQL text in the entity's order, when the row has them (a row of sums alone has not). */
  fields?: readonly (string | null)[];
  /** The database's reason; `judge` names the missing parent or the children in it. */
  reason: { code?: string; message: string };
  /** The store's error. */
  error: unknown;
  /** Writes (or deletes) the row again, alone, in a statement of its own. */
  retry(): Promise<void>;
}

/** What `RelatedRows.judge` decided. */
export interface Judgement {
  /** Keys that wait for a related key's pending flush: not acknowledged, no attempt spent. */
  waiting: Set<string>;
  /** Keys whose row was written when tried again (what blocked it landed in the meantime). */
  written: Set<string>;
}

/**
 * The I/O of flushing related rows (the pure part is `relation-plan.ts`): before a batch's statements, the
 * child rows whose parents have a flush pending in the cache; after them, which rows the database refused on
 * a foreign key only because a related key's flush is still pending (they wait, spending no attempt), and
 * what the others' messages say.
 */
export class RelatedRows {
  readonly #context: Context;
  readonly #locate: Locate;

  constructor(context: Context) {
    this.#context = context;
    const { shards } = context;
    this.#locate = (entity, id) => {
      const shard = shardOf(entity, id, shards.length);
      return { shard, key: dataKey(shards[shard] as (typeof shards)[number], entity, id) };
    };
  }

  /**
   * The data keys of `plans`' child rows that must wait for a parent's pending flush (see
   * `waitingChildren`). Without child entities in the batch it reads nothing.
   */
  async waitingForParents(plans: ReadonlyMap<string, EntityPlan>): Promise<Set<string>> {
    const parents = batchParents(plans, this.#context.entities, this.#locate);
    if (!parents) return new Set();
    const states =
      parents.toRead.size > 0 ? await readKeyStates(this.#context.redis, parents.toRead) : new Map();
    return waitingChildren(parents, states, this.#context.entities, plans);
  }

  /**
   * Looks at the rows refused on a foreign key (`23503`). A written row whose parent has a flush pending in
   * the cache, or a deleted row whose child has a delete pending, waits for it (see {@link Judgement}). A row
   * for which nothing is amiss any more (its parent, or the children's deletes, committed by another batch
   * while this one ran) is tried once more, alone. Any other keeps its refusal, its reason naming the parent
   * it lacks (in neither the database nor the cache) or the rows that still point at it. Store errors other
   * than an outage leave the database's message as it is.
   */
  async judge(rows: readonly RefusedRow[]): Promise<Judgement> {
    const judgement: Judgement = { waiting: new Set(), written: new Set() };
    const writes = rows.filter((r) => r.kind === 'write' && r.reason.code === FOREIGN_KEY_VIOLATION);
    const deletes = rows.filter((r) => r.kind === 'delete' && r.reason.code === FOREIGN_KEY_VIOLATION);
    const settled = [
      ...(writes.length > 0 ? await this.#judgeWrites(writes, judgement.waiting) : []),
      ...(deletes.length > 0 ? await this.#judgeDeletes(deletes, judgement.waiting) : []),
    ];
    for (const row of settled) {
      try {
        await row.retry();
        judgement.written.add(row.key);
      } catch (error) {
        if (this.#context.store.isUnavailable(error)) throw error;
      }
    }
    return judgement;
  }

  /** Judges refused writes; returns those for which nothing is amiss any more. */
  async #judgeWrites(rows: readonly RefusedRow[], waiting: Set<string>): Promise<RefusedRow[]> {
    const { entities, store } = this.#context;
    const candidates = rows.map((row): ParentCandidate[] => {
      const keyColumns = keyColumnsOf(row.entity, row.id);
      return row.entity.parents.flatMap((fk): ParentCandidate[] => {
        const values = foreignKeyValues(fk, keyColumns, row.fields);
        if (!values) return [];
        const parent = fk.parentEntity === undefined ? undefined : entities.get(fk.parentEntity);
        if (!parent) return [{ fk, values }];
        const parentId = idFromColumns(parent, values);
        return [{ fk, values, parentId, ...this.#locate(parent.name, parentId) }];
      });
    });
    const states = await this.#states(candidates.flat());
    const lookups: { row: RefusedRow; candidate: ParentCandidate }[] = [];
    rows.forEach((row, i) => {
      const mine = candidates[i] ?? [];
      if (mine.some((c) => c.key !== undefined && isPending(states.get(c.key)))) waiting.add(row.key);
      else for (const candidate of mine) lookups.push({ row, candidate });
    });
    if (!store.missingParents || lookups.length === 0) return [];
    const missing = new Map<RefusedRow, typeof lookups>();
    const unchecked = new Set<RefusedRow>();
    for (const fk of new Set(lookups.map((l) => l.candidate.fk))) {
      const asked = lookups.filter((l) => l.candidate.fk === fk);
      const absent = await this.#tolerate(() =>
        store.missingParents?.(
          fk,
          asked.map((l) => l.candidate.values),
        ),
      );
      asked.forEach((lookup, i) => {
        if (!absent) unchecked.add(lookup.row);
        else if (absent[i]) missing.set(lookup.row, [...(missing.get(lookup.row) ?? []), lookup]);
      });
    }
    for (const [row, found] of missing) {
      row.reason = {
        ...row.reason,
        message: missingParentMessage(
          row.entity.name,
          row.reason.message,
          found.map((l) => l.candidate),
        ),
      };
    }
    const checked = new Set(lookups.map((l) => l.row));
    return [...checked].filter((row) => !missing.has(row) && !unchecked.has(row));
  }

  /** Judges refused deletes; returns those for which nothing is amiss any more. */
  async #judgeDeletes(rows: readonly RefusedRow[], waiting: Set<string>): Promise<RefusedRow[]> {
    const settled: RefusedRow[] = [];
    if (!this.#context.store.referencingRows) return settled;
    for (const row of rows) {
      const first = await this.#children(row);
      const refs = first.found.flatMap((f) => f.refs);
      const states = await this.#states([...refs, this.#locate(row.entity.name, row.id)]);
      if (
        writtenSinceDelete(states.get(row.key)) ||
        refs.some((ref) => holdsParentDelete(states.get(ref.key)))
      ) {
        waiting.add(row.key);
      } else if (first.found.length > 0) {
        // A child's delete may have committed, and been acknowledged, between the lookup and the read of its
        // state: look again. What is still there now, with no delete pending before, truly keeps the row.
        const again = await this.#children(row);
        if (again.found.length === 0 && !again.unchecked) settled.push(row);
        else {
          const named = again.found.length > 0 ? again.found : first.found;
          row.reason = { ...row.reason, message: blockingChildrenMessage(row.reason.message, named) };
        }
      } else if (!first.unchecked && row.entity.children.length > 0) {
        settled.push(row);
      }
    }
    return settled;
  }

  /** The rows that point at a refused delete's row (a few per foreign key), and where the cache keeps them. */
  async #children(row: RefusedRow): Promise<{ found: Blocking[]; unchecked: boolean }> {
    const { entities, store } = this.#context;
    const key = keyColumnsOf(row.entity, row.id);
    const found: Blocking[] = [];
    let unchecked = false;
    for (const fk of row.entity.children) {
      const columns = await this.#tolerate(() => store.referencingRows?.(fk, key, CHILDREN_NAMED + 1));
      if (!columns) unchecked = true;
      if (!columns || columns.length === 0) continue;
      const child = fk.childEntity === undefined ? undefined : entities.get(fk.childEntity);
      const ids = columns.map((c) => (child ? idFromColumns(child, c) : c.join('/')));
      found.push({ fk, rows: ids, refs: child ? ids.map((id) => this.#locate(child.name, id)) : [] });
    }
    return { found, unchecked };
  }

  /** The states of keys (those without a key are parents the cache does not write), read once each. */
  async #states(refs: readonly { key?: string; shard?: number }[]): Promise<Map<string, KeyState>> {
    const byShard = keysByShard(refs);
    return byShard.size > 0 ? readKeyStates(this.#context.redis, byShard) : new Map();
  }

  /**
   * A store lookup for a message: an outage is thrown (the batch pauses for it), any other failure leaves the
   * database's message as it is, logged at debug.
   */
  async #tolerate<T>(lookup: () => Promise<T> | undefined): Promise<T | undefined> {
    try {
      return await lookup();
    } catch (error) {
      if (this.#context.store.isUnavailable(error)) throw error;
      this.#context.logger.debug?.({ err: error }, 'looking up related rows for a refused row failed');
      return undefined;
    }
  }
}
