import { randomBytes } from 'node:crypto';
import {
  type Config,
  ConfigError,
  cacheConfigSpec,
  integer,
  isLoopback,
  optional,
  port,
  text,
} from '@write-behind/demo';
import { DEFAULT_LOGIN_LIMIT } from './login-limit.ts';

export const dashboardConfigSpec = {
  ...cacheConfigSpec,
  PORT: port({ default: 3001, description: 'dashboard: HTTP port (0 picks a free one and logs it)' }),
  HOST: optional(
    text({
      description:
        'dashboard: address to listen on; 127.0.0.1 without credentials (any other address then refuses to start), else 0.0.0.0',
    }),
  ),
  DASHBOARD_USER: optional(
    text({
      description:
        'dashboard: HTTP Basic user name (set both or neither; neither: user `admin` with a generated password)',
    }),
  ),
  DASHBOARD_PASSWORD: optional(
    text({ secret: true, description: 'dashboard: HTTP Basic password (set both or neither)' }),
  ),
  DASHBOARD_CREDENTIALS_FILE: text({
    default: '.data/dashboard-credentials',
    description:
      'dashboard: where a generated `user:password` is written (mode 0600) when no credentials are set',
  }),
  DASHBOARD_LOGIN_FAILURES: integer({
    min: 1,
    max: 1_000_000,
    default: DEFAULT_LOGIN_LIMIT.failures,
    description:
      'dashboard: failed logins a client address may make per DASHBOARD_LOGIN_WINDOW_MS; then 429 with Retry-After until the window ends',
  }),
  DASHBOARD_SAMPLE_MS: integer({
    min: 100,
    max: 60_000,
    default: 2000,
    description:
      'dashboard: how often the overview samples the backlog and the activity counters for its charts (the last hour is kept)',
  }),
  DASHBOARD_LOGIN_WINDOW_MS: integer({
    min: 1000,
    default: DEFAULT_LOGIN_LIMIT.windowMs,
    description:
      'dashboard: the window of DASHBOARD_LOGIN_FAILURES, from the first failure of a client address',
  }),
};

export type DashboardConfig = Config<typeof dashboardConfigSpec>;

export interface DashboardAccess {
  host: string;
  credentials: { user: string; password: string };
  /** The password was generated at start (none was configured): `host` is then a loopback address. */
  generated: boolean;
}

/**
 * Decides where the dashboard listens and with which credentials. It can retry and delete jobs, so it never
 * serves anyone without a password: when none is configured it generates one (user `admin`) and binds to
 * 127.0.0.1, and an explicit non-loopback `HOST` without configured credentials is a configuration error.
 */
export function dashboardAccess(
  config: DashboardConfig,
  generatePassword = () => randomBytes(18).toString('base64url'),
): DashboardAccess {
  const { DASHBOARD_USER: user, DASHBOARD_PASSWORD: password, HOST: host } = config;
  if ((user === undefined) !== (password === undefined)) {
    const missing = user === undefined ? 'DASHBOARD_USER' : 'DASHBOARD_PASSWORD';
    throw new ConfigError([
      {
        variable: missing,
        problem: `${missing} is required when ${missing === 'DASHBOARD_USER' ? 'DASHBOARD_PASSWORD' : 'DASHBOARD_USER'} is set: give both, or neither for a dashboard on 127.0.0.1 only`,
      },
    ]);
  }
  if (user !== undefined && password !== undefined) {
    return { host: host ?? '0.0.0.0', credentials: { user, password }, generated: false };
  }
  if (host !== undefined && !isLoopback(host)) {
    throw new ConfigError([
      {
        variable: 'HOST',
        problem:
          `HOST=${host} would expose the dashboard, which can retry and delete jobs, beyond this machine without a password. ` +
          'Set DASHBOARD_USER and DASHBOARD_PASSWORD, or unset HOST to listen on 127.0.0.1 only.',
      },
    ]);
  }
  return {
    host: host ?? '127.0.0.1',
    credentials: { user: 'admin', password: generatePassword() },
    generated: true,
  };
}
