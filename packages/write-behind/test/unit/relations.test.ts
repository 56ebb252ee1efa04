// Relations between entities as the cache resolves them from a Prisma schema and `parents` declarations: each
// entity's parents, children and flush order, and the ConfigurationErrors for declarations that do not fit
// and for cycles. No server needed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigurationError } from '../../src/errors.ts';
import { type EntityDefinitions, string } from '../../src/schema/fields.ts';
import {
  type EntityRelations,
  type ForeignKey,
  foreignKeyValues,
  isOrdered,
  resolveRelations,
} from '../../src/schema/relations.ts';
import type { ResolvedEntity } from '../../src/schema/resolve.ts';
import { relationDefinitions as defs, related, resolveOn } from './fixtures/relations.ts';

/** A foreign key with its column types as SQL, comparable with `deepEqual`. */
const plain = (fk: ForeignKey) => ({ ...fk, types: fk.types.map((t) => t.sql) });
/** `Child.relation → parent` for a parent, `Child.relation (child entity)` for a child: one line each. */
const parentLine = (fk: ForeignKey) => `${fk.childModel}.${fk.name} → ${fk.parentEntity ?? fk.parentModel}`;
const childLine = (fk: ForeignKey) =>
  `${fk.childModel}.${fk.name}${fk.childEntity ? ` (${fk.childEntity}${isOrdered(fk) ? '' : ', unordered'})` : ''}`;

/** Each entity's flush order, parents and children, by name: resolved entities or `resolveRelations`'s. */
function graph(entities: ReadonlyMap<string, EntityRelations>) {
  return Object.fromEntries(
    [...entities].map(([name, e]) => [
      name,
      { flushOrder: e.flushOrder, parents: e.parents.map(parentLine), children: e.children.map(childLine) },
    ]),
  );
}

const entity = (entities: ReadonlyMap<string, ResolvedEntity>, name: string) =>
  entities.get(name) as ResolvedEntity;

describe('relations read from the Prisma schema and parents declared', () => {
  test("every entity's parents, children and depth", () => {
    assert.deepEqual(graph(related), {
      video: {
        flushOrder: 0,
        parents: [],
        children: [
          'Comment.video (comment)',
          'VideoStat.video (videoStat)',
          'VideoEvent.video (videoEvent)',
          'Tag.video',
        ],
      },
      comment: {
        flushOrder: 1,
        parents: ['Comment.video → video', 'Comment.replyTo → comment'],
        children: ['Comment.replyTo (comment)', 'Flag.comment (flag)'],
      },
      videoStat: { flushOrder: 1, parents: ['VideoStat.video → video'], children: [] },
      flag: { flushOrder: 2, parents: ['Flag.comment → comment'], children: [] },
      team: { flushOrder: 0, parents: [], children: ['Athlete.team (athlete)'] },
      athlete: { flushOrder: 1, parents: ['Athlete.team → team'], children: [] },
      device: { flushOrder: 0, parents: [], children: ['Sensor.device (sensor)'] },
      sensor: { flushOrder: 1, parents: ['Sensor.device → device'], children: [] },
      videoEvent: { flushOrder: 1, parents: ['VideoEvent.video → video'], children: [] },
    });
  });

  test('a one-to-many relation: columns, sources, onDelete (Restrict: required, no onDelete written)', () => {
    const [video] = entity(related, 'comment').parents;
    assert.ok(video);
    assert.deepEqual(plain(video), {
      name: 'video',
      parentEntity: 'video',
      parentModel: 'Video',
      childEntity: 'comment',
      childModel: 'Comment',
      sources: [{ from: 'field', index: 0 }],
      uuid: [false],
      onDelete: 'Restrict',
      declared: false,
      types: ['text'],
      child: { table: 'comment', columns: ['video_id'], keyColumns: ['id'] },
      parent: { table: 'Video', columns: ['id'] },
    });
    assert.equal(entity(related, 'video').children[0], video, 'the same object on both sides');
  });

  test("a composite-key parent whose foreign key lists its columns in another order: in the parent key's order", () => {
    // Athlete: fields [teamCode, league] references [code, league]; Team's key is (league, code).
    const [team] = entity(related, 'athlete').parents;
    assert.ok(team);
    assert.deepEqual(plain(team), {
      name: 'team',
      parentEntity: 'team',
      parentModel: 'Team',
      childEntity: 'athlete',
      childModel: 'Athlete',
      sources: [
        { from: 'field', index: 0 },
        { from: 'field', index: 1 },
      ],
      uuid: [false, false],
      onDelete: 'Restrict',
      declared: false,
      types: ['text', 'text'],
      child: { table: 'Athlete', columns: ['league', 'team_code'], keyColumns: ['id'] },
      parent: { table: 'teams', columns: ['league', 'team_code'] },
    });
    assert.deepEqual(foreignKeyValues(team, ['7'], ['A/B', 'x', 'Ada']), ['A/B', 'x']);
  });

  test('a self-reference: a parent and a child of its own entity, onDelete as written', () => {
    const replyTo = entity(related, 'comment').parents[1];
    assert.ok(replyTo);
    assert.deepEqual(
      {
        parentEntity: replyTo.parentEntity,
        childEntity: replyTo.childEntity,
        sources: replyTo.sources,
        onDelete: replyTo.onDelete,
        child: replyTo.child,
        parent: replyTo.parent,
      },
      {
        parentEntity: 'comment',
        childEntity: 'comment',
        sources: [{ from: 'field', index: 1 }],
        onDelete: 'Restrict',
        child: { table: 'comment', columns: ['reply_to_id'], keyColumns: ['id'] },
        parent: { table: 'comment', columns: ['id'] },
      },
    );
    assert.equal(entity(related, 'comment').children[0], replyTo);
    assert.deepEqual(
      foreignKeyValues(replyTo, ['c2'], ['v1', null, 'hi', '0']),
      undefined,
      'no reply: no parent',
    );
  });

  test("a declared parent (a foreign key the Prisma schema does not relate): the parent's key types, UUIDs marked", () => {
    const [device] = entity(related, 'sensor').parents;
    assert.ok(device);
    assert.deepEqual(plain(device), {
      name: 'device',
      parentEntity: 'device',
      parentModel: 'Device',
      childEntity: 'sensor',
      childModel: 'Sensor',
      sources: [{ from: 'field', index: 0 }],
      uuid: [true],
      onDelete: 'Restrict',
      declared: true,
      types: ['uuid'],
      child: { table: 'Sensor', columns: ['device_id'], keyColumns: ['id'] },
      parent: { table: 'Device', columns: ['id'] },
    });
    const [event] = entity(related, 'videoEvent').parents;
    assert.deepEqual(event?.sources, [{ from: 'key', index: 0 }], 'a key part can hold a parent key');
  });

  test('a child model no entity writes: a child of its parent, without sources, onDelete as written', () => {
    const tag = entity(related, 'video').children.find((fk) => fk.childModel === 'Tag');
    assert.ok(tag);
    assert.deepEqual(plain(tag), {
      name: 'video',
      parentEntity: 'video',
      parentModel: 'Video',
      childModel: 'Tag',
      sources: [],
      uuid: [false],
      onDelete: 'Cascade',
      declared: false,
      types: ['text'],
      child: { table: 'tag', columns: ['video_id'], keyColumns: ['id'] },
      parent: { table: 'Video', columns: ['id'] },
    });
  });

  test("a relation whose columns the entity does not write is no parent, but its rows still keep a parent's delete", () => {
    const entities = resolveOn({
      video: defs.video,
      comment: { model: 'Comment', fields: { videoId: string(), body: string() } },
    });
    assert.deepEqual(graph(entities), {
      video: {
        flushOrder: 0,
        parents: [],
        children: ['Comment.video (comment)', 'VideoStat.video', 'Tag.video'],
      },
      comment: {
        flushOrder: 1,
        parents: ['Comment.video → video'],
        children: ['Comment.replyTo (comment, unordered)', 'Flag.comment'],
      },
    });
  });

  test('parents: { relation: false } takes it out of the ordering; it still names the rows that keep a delete', () => {
    const entities = resolveOn({
      ...defs,
      comment: { ...defs.comment, parents: { video: false } },
      flag: { ...defs.flag, parents: { comment: false } },
    });
    const { video, comment, flag } = graph(entities);
    assert.deepEqual(comment, {
      flushOrder: 0,
      parents: ['Comment.replyTo → comment'],
      children: ['Comment.replyTo (comment)', 'Flag.comment (flag, unordered)'],
    });
    assert.deepEqual(video?.children, [
      'VideoStat.video (videoStat)',
      'VideoEvent.video (videoEvent)',
      'Comment.video (comment, unordered)',
      'Tag.video',
    ]);
    assert.deepEqual(flag, { flushOrder: 0, parents: [], children: [] });
  });

  test('a declaration under the name of a Prisma relation replaces it: one foreign key, declared', () => {
    const entities = resolveOn({
      video: defs.video,
      comment: { ...defs.comment, parents: { video: { entity: 'video', fields: ['videoId'] } } },
    });
    assert.deepEqual(
      entity(entities, 'comment').parents.map((fk) => [fk.name, fk.declared]),
      [
        ['replyTo', false],
        ['video', true],
      ],
    );
    assert.deepEqual(graph(entities).video?.children, [
      'Comment.video (comment)',
      'VideoStat.video',
      'Tag.video',
    ]);
  });

  test('without a Prisma schema (a store of another kind), the declared parents alone', () => {
    assert.deepEqual(graph(resolveRelations(related, undefined)), {
      video: { flushOrder: 0, parents: [], children: ['VideoEvent.video (videoEvent)'] },
      comment: { flushOrder: 0, parents: [], children: [] },
      videoStat: { flushOrder: 0, parents: [], children: [] },
      flag: { flushOrder: 0, parents: [], children: [] },
      team: { flushOrder: 0, parents: [], children: [] },
      athlete: { flushOrder: 0, parents: [], children: [] },
      device: { flushOrder: 0, parents: [], children: ['Sensor.device (sensor)'] },
      sensor: { flushOrder: 1, parents: ['Sensor.device → device'], children: [] },
      videoEvent: { flushOrder: 1, parents: ['VideoEvent.video → video'], children: [] },
    });
  });
});

/** Asserts that resolving `definitions` throws a ConfigurationError with exactly `message`. */
function refuses(definitions: EntityDefinitions, message: string): void {
  assert.throws(
    () => resolveOn(definitions),
    (error: unknown) => {
      assert.ok(error instanceof ConfigurationError, `a ConfigurationError, got ${error}`);
      assert.equal(error.message, message);
      return true;
    },
  );
}

describe('parents declarations that do not fit', () => {
  const sensor = (parents: unknown) =>
    ({ ...defs, sensor: { ...defs.sensor, parents } }) as EntityDefinitions;
  const cases: [string, EntityDefinitions, string][] = [
    [
      'an entity the cache lacks',
      sensor({ device: { entity: 'devise', fields: ['deviceId'] } }),
      'entities.sensor.parents.device.entity: "devise" is not an entity of this cache (entities: video, comment, videoStat, flag, team, athlete, device, sensor)',
    ],
    [
      'an append entity',
      sensor({ device: { entity: 'videoEvent', fields: ['label'] } }),
      'entities.sensor.parents.device.entity: "videoEvent" is not an entity whose rows have a key of their own (it is an append entity) (entities: video, comment, videoStat, flag, team, athlete, device, sensor)',
    ],
    [
      "fewer fields than the parent's key has parts",
      sensor({ team: { entity: 'team', fields: ['label'] } }),
      `entities.sensor.parents.team.fields: team's key has 2 parts (league, code), so fields must name 2, in that order; got ["label"]`,
    ],
    [
      'a field the entity does not declare',
      sensor({ device: { entity: 'device', fields: ['devId'] } }),
      `entities.sensor.parents.device.fields: "devId" is neither a key part nor a declared field of sensor (the cache must write the columns holding the parent's key)`,
    ],
    [
      "a field that cannot hold the parent's key",
      sensor({ device: { entity: 'device', fields: ['id'] } }),
      "entities.sensor.parents.device.fields: sensor.id (int) cannot hold device.id, a 'uuid' key part",
    ],
    [
      'a counter',
      {
        ...defs,
        videoStat: { ...defs.videoStat, parents: { video: { entity: 'video', fields: ['views'] } } },
      },
      "entities.videoStat.parents.video.fields: videoStat.views (counter) cannot hold video.id, a 'string' key part",
    ],
    [
      'no fields',
      sensor({ device: { entity: 'device' } }),
      `entities.sensor.parents.device must be { entity: '<entity>', fields: ['<field>', ...] } (the fields holding the parent's key, in its key's order) or false, got {"entity":"device"}`,
    ],
    [
      'a misspelt key',
      sensor({ device: { entity: 'device', feilds: ['deviceId'] } }),
      '`entities.sensor.parents.device.feilds` is not an option: did you mean `fields`? (entities.sensor.parents.device takes: entity, fields)',
    ],
    ['true', sensor({ device: true }), '`entities.sensor.parents.device` must be an object, got true'],
    ['an array', sensor([]), 'entities.sensor.parents must be an object of parents by name, got []'],
    [
      'a name that is not one',
      sensor({ 'the device': false }),
      'entities.sensor.parents: name "the device" must match /^[A-Za-z][A-Za-z0-9_]{0,62}$/',
    ],
    [
      'false on a name the model has no relation field of',
      { ...defs, comment: { ...defs.comment, parents: { vid: false } } },
      `entities.comment.parents.vid: false takes a relation of the Prisma schema out of the flush's ordering, but model Comment has no relation field "vid" holding a foreign key (its relation fields that do: video, replyTo)`,
    ],
    [
      'false on the side of a relation that holds no foreign key',
      { ...defs, comment: { ...defs.comment, parents: { replies: false } } },
      `entities.comment.parents.replies: false takes a relation of the Prisma schema out of the flush's ordering, but model Comment has no relation field "replies" holding a foreign key (its relation fields that do: video, replyTo)`,
    ],
    [
      'false on a declared parent (a model without relations)',
      sensor({ device: false }),
      `entities.sensor.parents.device: false takes a relation of the Prisma schema out of the flush's ordering, but model Sensor has no relation field "device" holding a foreign key`,
    ],
  ];
  for (const [name, definitions, message] of cases) test(name, () => refuses(definitions, message));
});

describe('cycles', () => {
  const author = { model: 'Author', fields: { name: string(), featuredBookId: string({ nullable: true }) } };
  const book = { model: 'Book', fields: { title: string(), authorId: string() } };
  const ring = {
    alpha: { model: 'Alpha', fields: { betaId: string({ nullable: true }) } },
    beta: { model: 'Beta', fields: { gammaId: string({ nullable: true }) } },
    gamma: { model: 'Gamma', fields: { alphaId: string({ nullable: true }) } },
  };
  const WHY =
    "new rows of each, written in the same flush window, would each wait for the other to reach the database first, for ever. Take one relation out of the flush's ordering,";
  const CAVEAT =
    '(its rows are then written without waiting for their parent, so that foreign key must accept them: nullable, and set once both rows are stored), or keep one of these tables out of the cache';

  test('two entities, each the parent of the other, are refused: the message names the cycle and the way out', () => {
    refuses(
      { author, book },
      `entities author, book are each other's parents (author.featuredBook → book, book.author → author): ${WHY} e.g. \`entities.author.parents: { featuredBook: false }\` ${CAVEAT}`,
    );
  });

  test('three entities in a ring are refused', () => {
    refuses(
      { ...defs, ...ring },
      `entities alpha, beta, gamma are each other's parents (alpha.beta → beta, beta.gamma → gamma, gamma.alpha → alpha): ${WHY} e.g. \`entities.alpha.parents: { beta: false }\` ${CAVEAT}`,
    );
  });

  test('the way out the message gives is accepted, and orders what is left', () => {
    const two = resolveOn({ author: { ...author, parents: { featuredBook: false } }, book });
    assert.deepEqual(graph(two), {
      author: { flushOrder: 0, parents: [], children: ['Book.author (book)'] },
      book: {
        flushOrder: 1,
        parents: ['Book.author → author'],
        children: ['Author.featuredBook (author, unordered)'],
      },
    });
    const three = resolveOn({ ...ring, alpha: { ...ring.alpha, parents: { beta: false } } });
    assert.deepEqual(
      [...three.values()].map((e) => [e.name, e.flushOrder]),
      [
        ['alpha', 0],
        ['beta', 2],
        ['gamma', 1],
      ],
    );
  });

  test('a cycle through a declared parent: the way out takes a relation of the schema out with false', () => {
    // author reaches book through a declaration (its `featuredBookId` is left out, so Author.featuredBook is
    // no parent), book reaches author through the schema's Book.author.
    refuses(
      {
        author: {
          model: 'Author',
          fields: { name: string() },
          parents: { fav: { entity: 'book', fields: ['name'] } },
        },
        book,
      },
      `entities author, book are each other's parents (author.fav → book, book.author → author): ${WHY} e.g. \`entities.book.parents: { author: false }\` ${CAVEAT}`,
    );
  });

  test('a cycle of declared parents alone: the way out is to remove a declaration (false would be refused)', () => {
    const declaredRing = {
      video: defs.video,
      comment: { ...defs.comment, parents: { owner: { entity: 'device', fields: ['body'] } } },
      device: { ...defs.device, parents: { note: { entity: 'comment', fields: ['label'] } } },
    };
    refuses(
      declaredRing,
      `entities comment, device are each other's parents (comment.owner → device, device.note → comment): ${WHY} by removing its declaration, e.g. \`entities.comment.parents.owner\` ${CAVEAT}`,
    );
    const { comment: _owner, ...rest } = declaredRing;
    assert.deepEqual(
      graph(resolveOn({ ...rest, comment: defs.comment })).device,
      { flushOrder: 2, parents: ['Device.note → comment'], children: [] },
      'without it, accepted',
    );
  });

  test('a self-reference is not a cycle', () => {
    const entities = resolveOn({ video: defs.video, comment: defs.comment });
    assert.deepEqual(graph(entities).comment, {
      flushOrder: 1,
      parents: ['Comment.video → video', 'Comment.replyTo → comment'],
      children: ['Comment.replyTo (comment)', 'Flag.comment'],
    });
  });
});
