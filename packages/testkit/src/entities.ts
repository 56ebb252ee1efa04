import { boolean, counter, dateTime, json, string } from '@write-behind/core';

/**
 * The demo schema's entities (prisma/schema.prisma) as the tests and the benchmark declare them: like
 * `demoEntities`, with defaults, so a partial set can create a settings record, and the video counters not
 * ranked (see {@link rankedEntities}).
 */
export const entities = {
  video: { model: 'Video', fields: { likes: counter(), views: counter() } },
  settings: {
    model: 'UserSettings',
    key: 'userId',
    fields: {
      theme: string({ default: 'light' }),
      language: string(),
      notifications: boolean({ default: true }),
    },
  },
};
export type TestEntities = typeof entities;

/** The demo's append entity (`VideoEvent`, one row per event), as in `demoEntities`. */
export const videoEvent = {
  model: 'VideoEvent',
  key: 'videoId',
  append: { sequence: 'seq' },
  fields: { type: string(), context: json({ nullable: true }), createdAt: dateTime() },
};

/** {@link entities} and the append entity `videoEvent`: the event log's tests and its worker processes. */
export const eventEntities = { ...entities, videoEvent };
export type EventTestEntities = typeof eventEntities;

/**
 * The demo's comment (`Comment`, a child of `Video` through its foreign key `videoId`), as in `demoEntities`:
 * its parent is read from the Prisma schema.
 */
export const comment = {
  model: 'Comment',
  fields: { videoId: string(), author: string(), body: string(), createdAt: dateTime() },
};

/** {@link entities} and `comment`: the relations tests. */
export const relationEntities = { ...entities, comment };
export type RelationTestEntities = typeof relationEntities;

/** Every entity of the demo schema: the chaos run and its worker processes. */
export const chaosEntities = { ...eventEntities, comment };
export type ChaosTestEntities = typeof chaosEntities;

/**
 * The same entities with the video counters ranked (`counter({ ranked: true })`), for the ranking tests and
 * the benchmark's ranked case; `entities` stays unranked, so the other tests and cases measure what they did.
 */
export const rankedEntities = {
  ...entities,
  video: { model: 'Video', fields: { likes: counter({ ranked: true }), views: counter({ ranked: true }) } },
};
export type RankedTestEntities = typeof rankedEntities;
