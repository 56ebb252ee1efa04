// The chaos run's clients: each drives the library with a weighted mix of operations on the keys it owns and
// on the keys every client shares, and records each ACKNOWLEDGED write in the model (see model.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BacklogFullError,
  NotFoundError,
  UnavailableError,
  ValidationError,
  type WriteBehind,
  WriteBehindError,
} from '@write-behind/core';
import type { EventTestEntities } from '../entities.ts';
import { mulberry32 } from '../random.ts';
import { bump, type Counts } from './counts.ts';
import {
  type ChaosEvent,
  type ChaosKeys,
  type ChaosModel,
  type CounterField,
  type Mismatch,
  type SettingsRecord,
  type StateEntity,
  sameValue,
} from './model.ts';

export type ChaosCache = WriteBehind<EventTestEntities>;

/** What was acknowledged and refused, by kind and by error code, and the reads that contradicted the model. */
export class LoadTally {
  readonly acknowledged: Counts = {};
  readonly rejected: Counts = {};
  readMismatches = 0;
  readonly readMismatchSamples: Mismatch[] = [];

  readMismatch(mismatch: Mismatch): void {
    this.readMismatches++;
    if (this.readMismatchSamples.length < 5) this.readMismatchSamples.push(mismatch);
  }
}

/** What the clients of one run share. */
export interface Load {
  cache: ChaosCache;
  model: ChaosModel;
  tally: LoadTally;
  clients: number;
  seed: number;
  stopped(): boolean;
}

/** A client's own state: its draws, the keys only it writes, how many events it appended. */
interface Client {
  index: number;
  random(): number;
  pick<T>(items: readonly T[]): T;
  /** A whole number from `least` to `most`. */
  between(least: number, most: number): number;
  owned: Record<StateEntity, string[]>;
  appended: number;
}

/** One operation a client chose: what it counts as, the key it writes (none for a read), and the call. */
interface Operation {
  kind: string;
  writes?: { entity: StateEntity | 'videoEvent'; id: string };
  run(): Promise<void>;
}

interface OperationType {
  /** Share of the operations, out of the sum of the weights of those the client can do. */
  weight: number;
  /** The keys it needs: a client without any (fewer keys than clients) does not do it. */
  needs: StateEntity | 'owned' | 'hot' | 'streams';
  make(client: Client, load: Load): Operation;
}

const THEMES = ['light', 'dark', 'solarized', 'système', '🌙'];
const LANGUAGES = ['en', 'de', 'fr', 'ja', 'pt-BR'];
const EVENT_TYPES = ['view', 'click', 'share', 'like'];

const counterField = (client: Client): CounterField => (client.random() < 0.5 ? 'likes' : 'views');

/**
 * The shared videos that also take increments: `hot0`, `hot2`... The others (`hot1`, `hot3`...) take adds
 * alone, so Redis holds them partly (what was added since their last flush) and each of their flushes is a
 * `column = column + sum`: an increment makes a key whole (it reads the stored value), and a whole key's
 * adds are flushed like increments.
 */
const incremented = (hot: readonly string[]) => hot.filter((_, i) => i % 2 === 0);

/** A write of `entity` `id`, counted as `kind`. */
const write = (
  kind: string,
  entity: StateEntity | 'videoEvent',
  id: string,
  run: () => Promise<void>,
): Operation => ({ kind, writes: { entity, id }, run });

/** The mix; the weights add up to 100. */
const OPERATIONS: OperationType[] = [
  {
    weight: 5,
    needs: 'hot',
    make(client, { cache, model }) {
      const [id, field, by] = [
        client.pick(incremented(model.keys.hot)),
        counterField(client),
        client.between(1, 3),
      ];
      return write('increment-hot', 'video', id, async () => {
        await cache.increment('video', id, field, by);
        model.added(id, field, by);
      });
    },
  },
  adds('add-hot', 5, 'hot', 3),
  {
    weight: 30,
    needs: 'video',
    make(client, { cache, model }) {
      const [id, field, by] = [client.pick(client.owned.video), counterField(client), client.between(-8, 12)];
      return write('increment', 'video', id, async () =>
        model.videoCounter(id, field, await cache.increment('video', id, field, by)),
      );
    },
  },
  adds('add', 8, 'video', 5),
  {
    weight: 8,
    needs: 'video',
    make(client, { cache, model }) {
      const id = client.pick(client.owned.video);
      const [whole, likes] = [client.random() < 0.5, client.between(0, 999)];
      const values = whole ? { likes, views: client.between(0, 999) } : { likes };
      return write(whole ? 'set-whole' : 'set-partial', 'video', id, async () =>
        model.record('video', id, await cache.set('video', id, values)),
      );
    },
  },
  deletes('video', 4),
  setsOfSettings('set-whole', 13, (client) => ({
    theme: client.pick(THEMES),
    language: client.pick(LANGUAGES),
    notifications: client.random() < 0.5,
  })),
  // On an absent record without `language` this is a NotFoundError: nothing changed.
  setsOfSettings('set-partial', 9, (client) => {
    const values: Partial<SettingsRecord> = {};
    if (client.random() < 0.5) values.theme = client.pick(THEMES);
    if (client.random() < 0.4) values.notifications = client.random() < 0.5;
    if (client.random() < 0.3 || Object.keys(values).length === 0) values.language = client.pick(LANGUAGES);
    return values;
  }),
  deletes('settings', 4),
  {
    weight: 8,
    needs: 'streams',
    make(client, { cache, model }) {
      const stream = client.pick(model.keys.streams);
      const event: ChaosEvent = {
        type: client.pick(EVENT_TYPES),
        context: client.random() < 0.2 ? null : { client: client.index, n: client.appended++ },
        createdAt: new Date(),
      };
      return write('append', 'videoEvent', stream, async () =>
        model.appended(client.index, stream, await cache.append('videoEvent', stream, event), event),
      );
    },
  },
  {
    weight: 6,
    needs: 'owned',
    make(client, { cache, model, tally }) {
      const { video, settings } = client.owned;
      const entity: StateEntity =
        settings.length === 0 || (video.length > 0 && client.random() < 0.5) ? 'video' : 'settings';
      const id = client.pick(client.owned[entity]);
      return {
        kind: 'get',
        run: async () => {
          const got = await cache.get(entity, id);
          // Only this client writes the key, so a read sees exactly what the model holds.
          const want = model.expected(entity, id);
          if (want !== undefined && !sameValue(got, want))
            tally.readMismatch({ where: 'redis', entity, id, expected: want, actual: got });
        },
      };
    },
  },
];

/** Adds of 1 to `most` to the `views` of shared videos (`hot`) or of the client's own (`video`). */
function adds(kind: string, weight: number, needs: 'hot' | 'video', most: number): OperationType {
  return {
    weight,
    needs,
    make(client, { cache, model }) {
      const id = client.pick(needs === 'hot' ? model.keys.hot : client.owned.video);
      const by = client.between(1, most);
      return write(kind, 'video', id, async () => {
        await cache.add('video', id, 'views', by);
        model.added(id, 'views', by);
      });
    },
  };
}

/** Sets of the client's own settings, of the values `choose` draws. */
function setsOfSettings(
  kind: string,
  weight: number,
  choose: (client: Client) => Partial<SettingsRecord>,
): OperationType {
  return {
    weight,
    needs: 'settings',
    make(client, { cache, model }) {
      const id = client.pick(client.owned.settings);
      const values = choose(client);
      return write(kind, 'settings', id, async () =>
        model.record('settings', id, await cache.set('settings', id, values)),
      );
    },
  };
}

/** Deletes of the client's own keys of `entity`. */
function deletes(entity: StateEntity, weight: number): OperationType {
  return {
    weight,
    needs: entity,
    make(client, { cache, model }) {
      const id = client.pick(client.owned[entity]);
      return write('delete', entity, id, async () => {
        await cache.delete(entity, id);
        model.record(entity, id, null);
      });
    },
  };
}

/** Runs client `index` until `load.stopped()`. */
export async function runClient(load: Load, index: number): Promise<void> {
  const client = createClient(load, index);
  const available = OPERATIONS.filter((type) => canDo(client, load.model.keys, type.needs));
  const totalWeight = available.reduce((sum, type) => sum + type.weight, 0);
  while (!load.stopped()) {
    const operation = chooseOperation(available, client.random() * totalWeight).make(client, load);
    try {
      await operation.run();
      bump(load.tally.acknowledged, operation.kind);
    } catch (error) {
      if (operation.writes && !refusedCleanly(error))
        load.model.unsure(operation.writes.entity, operation.writes.id);
      bump(load.tally.rejected, refusalName(error));
      // Back off a little after an outage or a full backlog, as a real client would.
      if (error instanceof UnavailableError || error instanceof BacklogFullError) await sleep(5);
    }
  }
}

/** The operation type a draw in [0, sum of the weights) falls on. */
function chooseOperation(types: OperationType[], draw: number): OperationType {
  let left = draw;
  for (const type of types) {
    if (left < type.weight) return type;
    left -= type.weight;
  }
  return types.at(-1) as OperationType;
}

function createClient(load: Load, index: number): Client {
  const random = mulberry32(load.seed * 1000 + index);
  const mine = (_: string, i: number) => i % load.clients === index;
  return {
    index,
    random,
    pick: (items) => items[Math.floor(random() * items.length)] as (typeof items)[number],
    between: (least, most) => least + Math.floor(random() * (most - least + 1)),
    owned: { video: load.model.keys.videos.filter(mine), settings: load.model.keys.settings.filter(mine) },
    appended: 0,
  };
}

function canDo(client: Client, keys: ChaosKeys, needs: OperationType['needs']): boolean {
  switch (needs) {
    case 'video':
    case 'settings':
      return client.owned[needs].length > 0;
    case 'owned':
      return client.owned.video.length + client.owned.settings.length > 0;
    case 'hot':
      return keys.hot.length > 0;
    case 'streams':
      return keys.streams.length > 0;
  }
}

/**
 * Whether the library promises that a write refused with `error` changed nothing: bad input, a record that
 * must exist and does not, a full backlog, or `UnavailableError` (Redis never ran the write). Any other
 * error (`IndeterminateError`, a bug) leaves the write's outcome unknown.
 */
export function refusedCleanly(error: unknown): boolean {
  return (
    error instanceof ValidationError ||
    error instanceof NotFoundError ||
    error instanceof BacklogFullError ||
    error instanceof UnavailableError
  );
}

function refusalName(error: unknown): string {
  if (error instanceof NotFoundError) return 'NOT_FOUND (expected)';
  if (error instanceof WriteBehindError) return error.code;
  return `non-library ${(error as Error)?.name}: ${(error as Error)?.message}`;
}
