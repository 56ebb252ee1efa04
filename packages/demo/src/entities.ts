import { boolean, counter, dateTime, type EntityDefinitions, json, string } from '@write-behind/core';

/**
 * The demo's entities, shared by the api, the worker and the dashboard: every process of one deployment must
 * agree on them, since the worker flushes what the api writes.
 */
export const demoEntities = {
  // Ranked: GET /videos/top and /videos/:id/rank answer from Redis (see the package README, "Rankings").
  video: { model: 'Video', fields: { likes: counter({ ranked: true }), views: counter({ ranked: true }) } },
  settings: {
    model: 'UserSettings',
    key: 'userId',
    fields: { theme: string(), language: string(), notifications: boolean() },
  },
  // An event log: every append is a row of its own (POST /videos/:id/events), numbered per video in `seq`.
  videoEvent: {
    model: 'VideoEvent',
    key: 'videoId',
    append: { sequence: 'seq' },
    fields: { type: string(), context: json({ nullable: true }), createdAt: dateTime() },
  },
  // A video's comments (POST /videos/:id/comments). Its parent, `video`, comes from the Prisma schema's
  // relation `Comment.video` (its foreign key `videoId` is a declared field): the flush writes a new video's
  // row before its comments' (see the package README, "Relations").
  comment: {
    model: 'Comment',
    fields: { videoId: string(), author: string(), body: string(), createdAt: dateTime() },
  },
} satisfies EntityDefinitions;

export type DemoEntities = typeof demoEntities;
