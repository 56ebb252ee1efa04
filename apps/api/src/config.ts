import { cacheConfigSpec, integer, port, text } from '@write-behind/demo';

/** The largest `by` of one increment unless `MAX_INCREMENT_BY` says otherwise. */
export const DEFAULT_MAX_INCREMENT_BY = 1000;

export const apiConfigSpec = {
  ...cacheConfigSpec,
  PORT: port({ default: 3000, description: 'api: HTTP port (0 picks a free one and logs it)' }),
  HOST: text({ default: '0.0.0.0', description: 'api: address to listen on' }),
  MAX_INCREMENT_BY: integer({
    min: 1,
    default: DEFAULT_MAX_INCREMENT_BY,
    description:
      'api: largest `by` of `POST /videos/:id/likes` and `/views`; a `by` that is not a whole number from 1 to this gets 400',
  }),
};
