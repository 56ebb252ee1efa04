import { boolean, counter, type EntityDefinitions, string } from '@write-behind/core';

/**
 * The demo's entities, shared by the api, the worker and the dashboard: every process of one deployment must
 * agree on them, since the worker flushes what the api writes.
 */
export const demoEntities = {
  video: { model: 'Video', fields: { likes: counter(), views: counter() } },
  settings: {
    model: 'UserSettings',
    key: 'userId',
    fields: { theme: string(), language: string(), notifications: boolean() },
  },
} satisfies EntityDefinitions;

export type DemoEntities = typeof demoEntities;
