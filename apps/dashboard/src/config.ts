import {
  type Config,
  ConfigError,
  cacheConfigSpec,
  isLoopback,
  optional,
  port,
  text,
} from '@write-behind/demo';

export const dashboardConfigSpec = {
  ...cacheConfigSpec,
  PORT: port({ default: 3001, description: 'dashboard: HTTP port (0 picks a free one and logs it)' }),
  HOST: optional(
    text({
      description:
        'dashboard: address to listen on; 127.0.0.1 without credentials (any other address then refuses to start), else 0.0.0.0',
    }),
  ),
  DASHBOARD_USER: optional(text({ description: 'dashboard: HTTP Basic user name (set both or neither)' })),
  DASHBOARD_PASSWORD: optional(
    text({ secret: true, description: 'dashboard: HTTP Basic password (set both or neither)' }),
  ),
};

export type DashboardConfig = Config<typeof dashboardConfigSpec>;

export interface DashboardAccess {
  host: string;
  /** Absent: no authentication, and `host` is a loopback address. */
  credentials?: { user: string; password: string };
}

/**
 * Decides where the dashboard listens and whether it asks for credentials. It can retry and delete jobs,
 * so it never serves anonymous users beyond this machine: without credentials it binds to 127.0.0.1, and
 * an explicit non-loopback `HOST` without credentials is a configuration error.
 */
export function dashboardAccess(config: DashboardConfig): DashboardAccess {
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
    return { host: host ?? '0.0.0.0', credentials: { user, password } };
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
  return { host: host ?? '127.0.0.1' };
}
