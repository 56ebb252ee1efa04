// Where the dashboard may listen and with which credentials, from its configuration alone (no servers
// needed; the app itself is tested in ../app.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '@write-behind/demo';
import { dashboardAccess, dashboardConfigSpec } from '../../src/config.ts';

describe('where the dashboard may listen', () => {
  const access = (env: Record<string, string>) => dashboardAccess(loadConfig(env, dashboardConfigSpec));

  test('without configured credentials it generates a password and binds to 127.0.0.1', () => {
    const first = access({});
    assert.equal(first.host, '127.0.0.1');
    assert.equal(first.generated, true);
    assert.equal(first.credentials.user, 'admin');
    assert.ok(first.credentials.password.length >= 24, 'a long random password');
    assert.notEqual(access({}).credentials.password, first.credentials.password, 'a new one each start');
    assert.equal(access({ HOST: '::1' }).host, '::1');
  });

  test('without credentials a non-loopback HOST is refused, naming HOST', () => {
    assert.throws(
      () => access({ HOST: '0.0.0.0' }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.variables.includes('HOST') &&
        /DASHBOARD_USER and DASHBOARD_PASSWORD/.test(error.message),
    );
  });

  test('one credential without the other is refused, naming the missing one', () => {
    assert.throws(
      () => access({ DASHBOARD_USER: 'ops' }),
      (error: unknown) => error instanceof ConfigError && error.variables[0] === 'DASHBOARD_PASSWORD',
    );
  });

  test('with credentials it listens on every interface unless HOST says otherwise', () => {
    const env = { DASHBOARD_USER: 'ops', DASHBOARD_PASSWORD: 'pw' };
    assert.deepEqual(access(env), {
      host: '0.0.0.0',
      credentials: { user: 'ops', password: 'pw' },
      generated: false,
    });
    assert.equal(access({ ...env, HOST: '10.0.0.5' }).host, '10.0.0.5');
  });

  test('a bad password is never echoed in the error', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' }, dashboardConfigSpec),
      (error: unknown) =>
        error instanceof ConfigError && /DATABASE_URL/.test(error.message) && !/hunter2/.test(error.message),
    );
    // Nor the password of cluster seeds, while the wrong seed is named.
    assert.throws(
      () =>
        loadConfig(
          { REDIS_CLUSTER_NODES: 'rediss://ops:hunter2@redis-1:6379,redis-2:x' },
          dashboardConfigSpec,
        ),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.variables.includes('REDIS_CLUSTER_NODES') &&
        /"redis-2:x"/.test(error.message) &&
        !/hunter2/.test(error.message),
    );
  });
});
