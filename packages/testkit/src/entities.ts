import { boolean, counter, string } from '@write-behind/core';

/**
 * The demo schema's entities (prisma/schema.prisma) as the tests and the benchmark declare them: like
 * `demoEntities`, with defaults, so a partial set can create a settings record.
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
