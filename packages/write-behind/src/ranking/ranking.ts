import { type Context, callRedis, redactError } from '../context.js';
import { UnavailableError, ValidationError } from '../errors.js';
import { dataKey, parseDataKey, rankingFloorKey, rankingKey, type ShardKeys, shardOf } from '../keys.js';
import { describeValue } from '../schema/codec.js';
import type { ResolvedEntity, ResolvedField } from '../schema/resolve.js';
import type { LoadedKey } from '../store/store.js';
import { getOrCreate } from '../util.js';
import { mergeTop, type RankedEntry } from './merge.js';

/** The largest `n` a `top` accepts: its answer is read from every shard and merged in one reply. */
export const MAX_TOP = 1000;
/** Most data keys in one call of the build script: bounds how long it holds Redis. */
const BUILD_KEYS_PER_CALL = 500;
/** How often `top` and `rank` build a ranking they found unbuilt before giving up (it was lost again meanwhile). */
const BUILD_ATTEMPTS = 3;

/** One shard's `top` (lua/ranking-top-1.lua): whether it holds all it should, and its entries. */
type TopReply = [0 | 1, string[]];

/** A key's place in a ranking. */
export interface RankPosition {
  /** 1 for the highest value; equal values share a rank. */
  rank: number;
  value: number;
}

/**
 * The rankings of ranked counters (`counter({ ranked: true })`): one sorted set per shard and field, which
 * the write script keeps up to date in the same atomic write as the counter (`lua/write.lua`). Reads merge
 * the shards' answers.
 *
 * Building: a ranking starts unbuilt. The first `top` or `rank` that finds a shard's part unbuilt (no mark)
 * builds it: every key of the entity dirty in Redis (which the database may not hold yet), then every row of
 * the database, page by page in key order, each key taking the value Redis holds when it holds the key and
 * the database's otherwise (read between two passes over Redis: `lua/ranking-build.lua` says why); then it
 * marks the part built. Writes keep scoring keys meanwhile, and every step is idempotent, so concurrent
 * builders (in this process they share one build) and racing writes leave the ranking right. A ranking Redis lost (a restart without persistence, a deleted key) has lost its mark too,
 * and is built again on its next use.
 *
 * Under a memory budget each shard's ranking keeps its highest `memory.rankingEntries` entries
 * (`lua/includes/ranking-cap.lua`): `top(n)` takes `n` up to that, `rank` answers above the floor of every
 * shard, and a trimmed ranking that deletes left with fewer than `n` entries is dropped and built again. An
 * `add` to a key the trimmed ranking lacks is placed when its flush has committed (`scoreFlushed`).
 */
export class Rankings {
  readonly #context: Context;
  readonly #builds = new Map<string, Promise<void>>();

  constructor(context: Context) {
    this.#context = context;
  }

  /** The ranked counter `name` of `entity`, or a {@link ValidationError} saying which fields are ranked. */
  field(entity: ResolvedEntity, name: unknown): ResolvedField {
    const field = typeof name === 'string' ? entity.fieldsByName.get(name) : undefined;
    if (field?.ranked) return field;
    const ranked = entity.fields.filter((f) => f.ranked).map((f) => f.name);
    const what = field ? `is not ranked (declare it counter({ ranked: true }))` : 'is not a field';
    throw new ValidationError(
      `${entity.name}.${typeof name === 'string' ? name : describeValue(name)} ${what}; ranked fields of ${entity.name}: ${ranked.join(', ') || 'none'}`,
    );
  }

  /** The `n` highest entries, highest first (ties: see `ranking/merge.ts`). */
  async top(entity: ResolvedEntity, field: ResolvedField, n: number): Promise<RankedEntry[]> {
    const { redis, shards, budget } = this.#context;
    const most = budget.rankingCap > 0 ? Math.min(MAX_TOP, budget.rankingCap) : MAX_TOP;
    if (!Number.isSafeInteger(n) || n < 1 || n > most) {
      const why = most < MAX_TOP ? ` (the rankings keep ${most} entries: memory.rankingEntries)` : '';
      throw new ValidationError(`top n must be an integer from 1 to ${most}${why}, got ${describeValue(n)}`);
    }
    for (let attempt = 1; ; attempt++) {
      const replies = await Promise.all(
        shards.map((s) => callRedis(() => redis.wbRankingTop(rankingKey(s, entity.name, field.name), n))),
      );
      const unbuilt = shards.filter((_, i) => replies[i] === null);
      // A trimmed part with fewer than n entries left may lack some of the n highest: built again.
      const short = shards.filter((_, i) => replies[i]?.[0] === 0);
      if (unbuilt.length === 0 && short.length === 0) {
        return mergeTop(
          replies.map((r) => (r as TopReply)[1]),
          n,
        );
      }
      for (const shard of short) await this.#mark(entity, field, shard, 'reset', String(n));
      await this.#build(entity, field, [...unbuilt, ...short], attempt);
    }
  }

  /**
   * The rank and value of the key `id` (canonical), or `null` when it has no record, or when a capped ranking
   * cannot place it (below a floor: see `lua/ranking-rank-1.lua`).
   */
  async rank(entity: ResolvedEntity, field: ResolvedField, id: string): Promise<RankPosition | null> {
    const { redis, shards, options } = this.#context;
    const own = shards[shardOf(entity.name, id, options.shards)] as ShardKeys;
    const key = (s: ShardKeys) => rankingKey(s, entity.name, field.name);
    for (let attempt = 1; ; attempt++) {
      const mine = await callRedis(() => redis.wbRankingRank(key(own), id, ''));
      if (mine[0] === 0) {
        await this.#build(entity, field, [own], attempt);
        continue;
      }
      if (mine.length === 1) return null;
      const score = String(mine[2]);
      const others = shards.filter((s) => s !== own);
      const replies = await Promise.all(
        others.map((s) => callRedis(() => redis.wbRankingRank(key(s), '', score))),
      );
      const unbuilt = others.filter((_, i) => replies[i]?.[0] === 0);
      if (unbuilt.length > 0) {
        await this.#build(entity, field, unbuilt, attempt);
        continue;
      }
      // Another shard's count is exact only at or above its floor: records it trimmed score at most that.
      if (replies.some((r) => r[3] !== '' && Number(r[3]) > Number(score))) return null;
      const above = [mine, ...replies].reduce((sum, r) => sum + Number(r[1]), 0);
      return { rank: above + 1, value: Number(score) };
    }
  }

  /** Builds the parts of a ranking that `shards` hold, once at a time per field in this process. */
  async #build(entity: ResolvedEntity, field: ResolvedField, shards: ShardKeys[], attempt: number) {
    if (attempt > BUILD_ATTEMPTS) {
      throw new UnavailableError(
        `the ranking of ${entity.name}.${field.name} was lost again each time it was built (${BUILD_ATTEMPTS} builds); is something deleting its keys?`,
      );
    }
    const flight = `${entity.name}:${field.name}`;
    const running = this.#builds.get(flight);
    // A build already running may cover other shards; the caller looks again when it ends.
    if (running) return running;
    const build = this.#runBuild(entity, field, shards).finally(() => this.#builds.delete(flight));
    this.#builds.set(flight, build);
    return build;
  }

  /**
   * Places keys marked `_r` in their entity's rankings once their flush has committed: each field's value is
   * the row's plus what is pending (lua/ranking-build.lua, 'score'); one read of the rows for every field.
   */
  async scoreFlushed(entity: ResolvedEntity, shard: ShardKeys, ids: string[]): Promise<void> {
    const fields = entity.fields.filter((f) => f.ranked);
    for (let attempt = 1; ids.length > 0 && fields.length > 0; attempt++) {
      const first = fields[0] as ResolvedField;
      if (attempt > BUILD_ATTEMPTS) {
        throw new UnavailableError(
          `the rankings of ${entity.name}: ${ids.length} keys were flushed again during each of ${BUILD_ATTEMPTS} reads`,
        );
      }
      const read = await this.#fromStore(entity, first, () => this.#context.store.load(entity, ids));
      const keys = ids.map((id) => dataKey(shard, entity.name, id));
      const again = new Set<number>();
      for (const field of fields) {
        const ranking = rankingKey(shard, entity.name, field.name);
        const stale = await this.#apply(field, ranking, shard, keys, 'score', loadedValues(read, ids, field));
        for (const i of stale) again.add(i);
      }
      ids = [...again].map((i) => ids[i] as string);
    }
  }

  /** A mode of the build script on a shard's whole ranking: 'seal' (with its generation) or 'reset' (with n). */
  #mark(entity: ResolvedEntity, field: ResolvedField, shard: ShardKeys, mode: 'seal' | 'reset', arg: string) {
    const ranking = rankingKey(shard, entity.name, field.name);
    // The cap (ARGV[4]) is not read by these modes.
    return callRedis(() =>
      this.#context.redis.wbRankingBuild(
        1,
        ranking,
        field.name,
        mode,
        String(shard.dataKeyPrefixLength),
        '0',
        arg,
      ),
    );
  }

  /** Runs a pass over keys; returns the indexes of those it needs (again) from the database. */
  async #apply(
    field: ResolvedField,
    ranking: string,
    shard: ShardKeys,
    keys: string[],
    mode: 'dirty' | 'redis' | 'db' | 'score',
    loaded: string[] = [],
  ): Promise<number[]> {
    const { redis, budget } = this.#context;
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i += BUILD_KEYS_PER_CALL) {
      const chunk = keys.slice(i, i + BUILD_KEYS_PER_CALL);
      const reply = await callRedis(() =>
        redis.wbRankingBuild(
          chunk.length + 1,
          ranking,
          ...chunk,
          field.name,
          mode,
          String(shard.dataKeyPrefixLength),
          String(budget.rankingCap),
          ...loaded.slice(2 * i, 2 * (i + BUILD_KEYS_PER_CALL)),
        ),
      );
      for (const position of reply as number[]) missing.push(i + position - 1);
    }
    return missing;
  }

  /**
   * Reads the keys' values and versions from the database and gives them to a 'db' or 'score' pass, again for
   * those whose read a flush overtook (a partial key's sums: see lua/ranking-build.lua).
   */
  async #fromDatabase(
    entity: ResolvedEntity,
    field: ResolvedField,
    shard: ShardKeys,
    ids: string[],
    mode: 'db' | 'score',
  ): Promise<void> {
    const ranking = rankingKey(shard, entity.name, field.name);
    for (let attempt = 1; ids.length > 0; attempt++) {
      if (attempt > BUILD_ATTEMPTS) {
        throw new UnavailableError(
          `the ranking of ${entity.name}.${field.name}: ${ids.length} keys were flushed again during each of ${BUILD_ATTEMPTS} reads`,
        );
      }
      const read = await this.#fromStore(entity, field, () => this.#context.store.load(entity, ids));
      const loaded = loadedValues(read, ids, field);
      const again = await this.#apply(
        field,
        ranking,
        shard,
        ids.map((id) => dataKey(shard, entity.name, id)),
        mode,
        loaded,
      );
      ids = again.map((i) => ids[i] as string);
    }
  }

  async #runBuild(entity: ResolvedEntity, field: ResolvedField, shards: ShardKeys[]): Promise<void> {
    const { redis, options, store, logger } = this.#context;
    const started = Date.now();
    const wanted = new Set(shards.map((s) => s.shard));
    const ranking = (s: ShardKeys) => rankingKey(s, entity.name, field.name);
    const apply = (shard: ShardKeys, keys: string[], mode: 'dirty' | 'redis') =>
      this.#apply(field, ranking(shard), shard, keys, mode);
    const fromDatabase = (shard: ShardKeys, ids: string[]) =>
      this.#fromDatabase(entity, field, shard, ids, 'db');
    // A part reset meanwhile (a trimmed part left short: see `top`) is not sealed by this build.
    const generations = await Promise.all(
      shards.map((s) => callRedis(() => redis.hget(rankingFloorKey(s, entity.name, field.name), 'g'))),
    );

    // Keys dirty in Redis, which the database may not hold yet. ZSCAN returns every key dirty for the whole
    // scan; one that became dirty meanwhile was scored by its write, and one flushed meanwhile is in the
    // database, which is read next.
    for (const shard of shards) {
      const prefix = dataKey(shard, entity.name, '');
      let cursor = '0';
      do {
        const [next, flat] = await callRedis(() => redis.zscan(shard.dirty, cursor, 'COUNT', 1000));
        cursor = next;
        const keys = flat.filter((member, i) => i % 2 === 0 && member.startsWith(prefix));
        // Keys held partly (made by adds alone) need their stored value, which may have no row to page to.
        const partial = (await apply(shard, keys, 'dirty')).map(
          (i) => parseDataKey(shard, keys[i] as string).id,
        );
        await fromDatabase(shard, partial);
      } while (cursor !== '0');
    }

    // Every row of the database, in pages; a key Redis holds takes its value there.
    const pageSize = options.limits.maxLoadBatch;
    let rows = 0;
    for (let after: string | undefined; ; ) {
      const ids = await this.#fromStore(
        entity,
        field,
        async () => (await store.scan?.(entity, after, pageSize)) ?? [],
      );
      if (ids.length === 0) break;
      rows += ids.length;
      const byShard = new Map<ShardKeys, string[]>();
      for (const id of ids) {
        const shard = this.#context.shards[shardOf(entity.name, id, options.shards)] as ShardKeys;
        if (!wanted.has(shard.shard)) continue;
        getOrCreate(byShard, shard, () => []).push(id);
      }
      for (const [shard, group] of byShard) {
        const missing = (
          await apply(
            shard,
            group.map((id) => dataKey(shard, entity.name, id)),
            'redis',
          )
        ).map((i) => group[i] as string);
        // Read after the first pass entered them (placeholders at -inf), before the second fills them: see
        // `lua/ranking-build.lua` for why the order matters.
        await fromDatabase(shard, missing);
      }
      if (ids.length < pageSize) break;
      after = ids[ids.length - 1];
    }

    for (const [i, shard] of shards.entries())
      await this.#mark(entity, field, shard, 'seal', generations[i] ?? '');
    logger.info(
      {
        entity: entity.name,
        field: field.name,
        shards: shards.map((s) => s.shard),
        rows,
        ms: Date.now() - started,
      },
      'built a ranking',
    );
  }

  async #fromStore<T>(entity: ResolvedEntity, field: ResolvedField, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new UnavailableError(
        `could not build the ranking of ${entity.name}.${field.name}: the database could not be read`,
        { cause: redactError(error) },
      );
    }
  }
}

/** A field's loaded values as the build script takes them: value ('' without a row) and version, per id. */
function loadedValues(
  read: ReadonlyMap<string, LoadedKey>,
  ids: readonly string[],
  field: ResolvedField,
): string[] {
  return ids.flatMap((id) => {
    const key = read.get(id);
    const value = key?.values?.[field.name];
    return [value === undefined || value === null ? '' : String(value), String(key?.version ?? 0)];
  });
}
