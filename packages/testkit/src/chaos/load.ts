// The chaos run's clients: each drives the library with a weighted mix of operations on the keys it owns and
// on the keys every client shares, and records each ACKNOWLEDGED write in the model (see model.ts).
//
// Comments are children of videos (`comment.video_id` → `Video.id`, ON DELETE RESTRICT), and the load keeps
// that foreign key satisfiable whatever the flush does, so that the database rightly refuses nothing: a comment
// is created only on a video the model holds, or together with the video's first write (an `add` alone, an
// `increment` or a whole set, in the same flush window, one after the other or at once); a video is deleted
// only right after the deletes of every comment of it that may exist (the model's, and those of unknown
// outcome), and not at all if one of them is refused. The order of the flush is then the library's business.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BacklogFullError,
  NotFoundError,
  UnavailableError,
  ValidationError,
  type WriteBehind,
  WriteBehindError,
} from '@write-behind/core';
import type { ChaosTestEntities } from '../entities.ts';
import { mulberry32 } from '../random.ts';
import { bump, type Counts } from './counts.ts';
import {
  type ChaosEvent,
  type ChaosKeys,
  type ChaosModel,
  type CommentRecord,
  type CounterField,
  type Mismatch,
  type SettingsRecord,
  type StateEntity,
  sameValue,
} from './model.ts';

export type ChaosCache = WriteBehind<ChaosTestEntities>;

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
  /** Its videos, settings, and comments: those on its videos, and its one on each shared video. */
  owned: Record<StateEntity, string[]>;
  appended: number;
  /** Comments it wrote, to number their bodies. */
  commented: number;
}

/**
 * One operation a client chose: what it counts as, and the call. A write's call goes through {@link tracked},
 * each of its writes if it makes several.
 */
interface Operation {
  kind: string;
  run(): Promise<void>;
}

interface OperationType {
  /** Share of the operations, out of the sum of the weights of those the client can do. */
  weight: number;
  /** The keys it needs: a client without any (fewer keys than clients) does not do it. */
  needs: StateEntity | 'owned' | 'hot' | 'streams';
  make(client: Client, load: Load): Operation;
}

type WrittenEntity = StateEntity | 'videoEvent';

const THEMES = ['light', 'dark', 'solarized', 'système', '🌙'];
const LANGUAGES = ['en', 'de', 'fr', 'ja', 'pt-BR'];
const EVENT_TYPES = ['view', 'click', 'share', 'like'];
const AUTHORS = ['ada', 'grace', 'édith', '小林', 'o’brien'];
const BODIES = ['first!', 'nice video', 'ça marche 👍', 'see 2:31', 'line one\nline two'];

const counterField = (client: Client): CounterField => (client.random() < 0.5 ? 'likes' : 'views');

/**
 * The shared videos that also take increments: `hot0`, `hot2`... The others (`hot1`, `hot3`...) take adds
 * alone, so Redis holds them partly (what was added since their last flush) and each of their flushes is a
 * `column = column + sum`: an increment makes a key whole (it reads the stored value), and a whole key's
 * adds are flushed like increments.
 */
const incremented = (hot: readonly string[]) => hot.filter((_, i) => i % 2 === 0);

/**
 * Runs one write of `entity` `id`. A refusal that does not promise that nothing was written (see
 * {@link refusedCleanly}) leaves the key's outcome unknown: the model leaves it out until a set or a delete
 * defines it again. The error goes on: an operation of several writes stops at the first refused.
 */
async function tracked<T>(
  model: ChaosModel,
  entity: WrittenEntity,
  id: string,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!refusedCleanly(error)) model.unsure(entity, id);
    throw error;
  }
}

/** A write of `entity` `id`, counted as `kind`. */
const write = (
  kind: string,
  model: ChaosModel,
  entity: WrittenEntity,
  id: string,
  run: () => Promise<void>,
): Operation => ({ kind, run: () => tracked(model, entity, id, run) });

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
      return write('increment-hot', model, 'video', id, async () => {
        await cache.increment('video', id, field, by);
        model.added(id, field, by);
      });
    },
  },
  adds('add-hot', 5, 'hot', 3),
  {
    weight: 24,
    needs: 'video',
    make(client, { cache, model }) {
      const [id, field, by] = [client.pick(client.owned.video), counterField(client), client.between(-8, 12)];
      return write('increment', model, 'video', id, async () =>
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
      return write(whole ? 'set-whole' : 'set-partial', model, 'video', id, async () =>
        model.record('video', id, await cache.set('video', id, values)),
      );
    },
  },
  {
    weight: 4,
    needs: 'video',
    make: (client, load) => deleteVideo(load, client.pick(client.owned.video)),
  },
  setsOfSettings('set-whole', 11, (client) => ({
    theme: client.pick(THEMES),
    language: client.pick(LANGUAGES),
    notifications: client.random() < 0.5,
  })),
  // On an absent record without `language` this is a NotFoundError: nothing changed.
  setsOfSettings('set-partial', 8, (client) => {
    const values: Partial<SettingsRecord> = {};
    if (client.random() < 0.5) values.theme = client.pick(THEMES);
    if (client.random() < 0.4) values.notifications = client.random() < 0.5;
    if (client.random() < 0.3 || Object.keys(values).length === 0) values.language = client.pick(LANGUAGES);
    return values;
  }),
  {
    weight: 4,
    needs: 'settings',
    make(client, { cache, model }) {
      const id = client.pick(client.owned.settings);
      return write('delete', model, 'settings', id, async () => {
        await cache.delete('settings', id);
        model.record('settings', id, null);
      });
    },
  },
  {
    weight: 7,
    needs: 'comment',
    make(client, load) {
      const id = chooseComment(client, load.model);
      if (load.model.expected('comment', id)) return updateComment(client, load, id);
      const videoId = load.model.videoOf(id);
      if (load.model.expected('video', videoId)) {
        const { cache, model } = load;
        const values = commentValues(client, videoId);
        return write('comment-create', model, 'comment', id, async () =>
          model.record('comment', id, await cache.set('comment', id, values)),
        );
      }
      return videoWithComment(client, load, videoId, id);
    },
  },
  {
    weight: 2,
    needs: 'comment',
    make(client, { cache, model }) {
      // Mostly one that may exist: deleting what is absent only writes a tombstone.
      const present = client.owned.comment.filter((id) => model.expected('comment', id) !== null);
      const id = client.pick(present.length > 0 && client.random() < 0.9 ? present : client.owned.comment);
      return write('comment-delete', model, 'comment', id, () => deleteComment(cache, model, id));
    },
  },
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
      return write('append', model, 'videoEvent', stream, async () =>
        model.appended(client.index, stream, await cache.append('videoEvent', stream, event), event),
      );
    },
  },
  {
    weight: 6,
    needs: 'owned',
    make(client, { cache, model, tally }) {
      const entities = (['video', 'settings', 'comment'] as const).filter((e) => client.owned[e].length > 0);
      const entity: StateEntity = client.pick(entities);
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
      return write(kind, model, 'video', id, async () => {
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
      return write(kind, model, 'settings', id, async () =>
        model.record('settings', id, await cache.set('settings', id, values)),
      );
    },
  };
}

/**
 * A video's delete, right after the deletes of every comment of it that may exist (ON DELETE RESTRICT: the
 * database refuses a video's delete while a comment row points at it, and the flush lets a parent's delete
 * wait only for its children's pending deletes). A comment delete refused stops the operation before the
 * video's.
 */
function deleteVideo({ cache, model }: Load, videoId: string): Operation {
  const comments = model.commentsOf(videoId).filter((id) => model.expected('comment', id) !== null);
  return {
    kind: 'delete-video',
    async run() {
      await Promise.all(
        comments.map((id) => tracked(model, 'comment', id, () => deleteComment(cache, model, id))),
      );
      await tracked(model, 'video', videoId, async () => {
        await cache.delete('video', videoId);
        model.record('video', videoId, null);
      });
    },
  };
}

async function deleteComment(cache: ChaosCache, model: ChaosModel, id: string): Promise<void> {
  await cache.delete('comment', id);
  model.record('comment', id, null);
}

/**
 * One of the client's comments: two times in five, when it has videos the model says are absent (never
 * written, or deleted), one on such a video, so that the comment comes with the video's first write; one time
 * in three, one the model holds (to update); else any.
 */
function chooseComment(client: Client, model: ChaosModel): string {
  const draw = client.random();
  if (draw < 0.4) {
    const absent = client.owned.video.filter((id) => model.expected('video', id) === null);
    if (absent.length > 0) return client.pick(model.commentsOf(client.pick(absent)));
  } else if (draw < 0.75) {
    const held = client.owned.comment.filter((id) => model.expected('comment', id));
    if (held.length > 0) return client.pick(held);
  }
  return client.pick(client.owned.comment);
}

/** A whole comment on `videoId`: no read of the database, whether the comment exists or not. */
function commentValues(client: Client, videoId: string): CommentRecord {
  return {
    videoId,
    author: client.pick(AUTHORS),
    body: `${client.pick(BODIES)} (${client.index}.${client.commented++})`,
    createdAt: new Date(),
  };
}

/** A partial set of an existing comment: its body, or its author and body; it never moves to another video. */
function updateComment(client: Client, { cache, model, tally }: Load, id: string): Operation {
  const values: Partial<CommentRecord> = {
    body: `edited: ${client.pick(BODIES)} (${client.index}.${client.commented++})`,
  };
  if (client.random() < 0.3) values.author = client.pick(AUTHORS);
  const want = model.expected('comment', id);
  return write('comment-update', model, 'comment', id, async () => {
    try {
      model.record('comment', id, await cache.set('comment', id, values));
    } catch (error) {
      // The model holds the comment, and only this client writes it: the library lost it.
      if (error instanceof NotFoundError)
        tally.readMismatch({ where: 'redis', entity: 'comment', id, expected: want, actual: null });
      throw error;
    }
  });
}

/**
 * A video the model says is absent (or whose outcome is unknown) written, and a comment on it, in the same
 * window: the comment's row must wait for the video's (new, or made by `add` alone: Redis never read it).
 * Two times in three the video first, then the comment once acknowledged; otherwise both at once, in any
 * order, and a comment acknowledged on a video that was refused is deleted again.
 */
function videoWithComment(client: Client, { cache, model }: Load, videoId: string, id: string): Operation {
  const firstWrite = videoFirstWrite(client, cache, model, videoId);
  const values = commentValues(client, videoId);
  const writeComment = () =>
    tracked(model, 'comment', id, async () =>
      model.record('comment', id, await cache.set('comment', id, values)),
    );
  const atOnce = client.random() < 1 / 3;
  return {
    kind: 'video+comment',
    async run() {
      if (!atOnce) {
        await firstWrite();
        await writeComment();
        return;
      }
      const [video, comment] = await Promise.allSettled([firstWrite(), writeComment()]);
      if (video.status === 'rejected') {
        if (comment.status === 'fulfilled')
          await tracked(model, 'comment', id, () => deleteComment(cache, model, id));
        throw video.reason;
      }
      if (comment.status === 'rejected') throw comment.reason;
    },
  };
}

/**
 * The first write of a video: an add to a shared video; to an owned one, an `add` alone half the time (Redis
 * then holds the video partly, and its flush inserts the row), else an increment or a whole set. A video whose
 * outcome is unknown is set whole, which defines it.
 */
function videoFirstWrite(
  client: Client,
  cache: ChaosCache,
  model: ChaosModel,
  videoId: string,
): () => Promise<void> {
  const draw = client.random();
  const [field, by] = [counterField(client), client.between(1, 5)];
  const unsure = model.expected('video', videoId) === undefined;
  const owned = !model.keys.hot.includes(videoId);
  return () =>
    tracked(model, 'video', videoId, async () => {
      if (!owned || (!unsure && draw < 0.5)) {
        await cache.add('video', videoId, 'views', by);
        model.added(videoId, 'views', by);
      } else if (!unsure && draw < 0.75) {
        model.videoCounter(videoId, field, await cache.increment('video', videoId, field, by));
      } else {
        const values = { likes: client.between(0, 999), views: client.between(0, 999) };
        model.record('video', videoId, await cache.set('video', videoId, values));
      }
    });
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
  const { model } = load;
  const video = model.keys.videos.filter(mine);
  // A shared video has one comment per client, the client's at its own index.
  const comment = [
    ...video.flatMap((id) => model.commentsOf(id)),
    ...model.keys.hot.flatMap((id) => model.commentsOf(id).filter(mine)),
  ];
  return {
    index,
    random,
    pick: (items) => items[Math.floor(random() * items.length)] as (typeof items)[number],
    between: (least, most) => least + Math.floor(random() * (most - least + 1)),
    owned: { video, settings: model.keys.settings.filter(mine), comment },
    appended: 0,
    commented: 0,
  };
}

function canDo(client: Client, keys: ChaosKeys, needs: OperationType['needs']): boolean {
  switch (needs) {
    case 'video':
    case 'settings':
    case 'comment':
      return client.owned[needs].length > 0;
    case 'owned':
      return client.owned.video.length + client.owned.settings.length + client.owned.comment.length > 0;
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
