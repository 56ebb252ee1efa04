import { cacheConfigSpec, port, text } from '@write-behind/demo';

export const apiConfigSpec = {
  ...cacheConfigSpec,
  PORT: port({ default: 3000, description: 'api: HTTP port (0 picks a free one and logs it)' }),
  HOST: text({ default: '0.0.0.0', description: 'api: address to listen on' }),
};
