// loadConfig: defaults, parsing, and errors that name every wrong variable (no servers needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as demo from '../../src/index.ts';

const spec = {
  PORT: demo.port({ default: 3000, description: 'port' }),
  MODE: demo.oneOf(['a', 'b'] as const, { default: 'a', description: 'mode' }),
  NAME: demo.text({ description: 'required name' }),
  TOKEN: demo.optional(demo.text({ secret: true, description: 'token' })),
  LIMIT: demo.integer({ min: 1, max: 10, default: 5, description: 'limit' }),
  TARGET: demo.url({ protocols: ['redis:'], default: 'redis://127.0.0.1:6379', description: 'target' }),
};

test('defaults fill unset and empty variables; values are parsed and typed', () => {
  const config: demo.Config<typeof spec> = demo.loadConfig({ NAME: 'x', PORT: '', LIMIT: ' 7 ' }, spec);
  assert.deepEqual(config, {
    PORT: 3000,
    MODE: 'a',
    NAME: 'x',
    TOKEN: undefined,
    LIMIT: 7,
    TARGET: 'redis://127.0.0.1:6379',
  });
});

test('every wrong variable is named in one error, with what it expects', () => {
  assert.throws(
    () =>
      demo.loadConfig(
        { PORT: '70000', MODE: 'c', LIMIT: '1.5', TARGET: 'http://x', TOKEN: 'hunter2' },
        { ...spec, TOKEN: demo.text({ secret: true, pattern: /^t_/, description: 'token' }) },
      ),
    (error: unknown) => {
      assert.ok(error instanceof demo.ConfigError);
      assert.deepEqual(error.variables, ['PORT', 'MODE', 'NAME', 'TOKEN', 'LIMIT', 'TARGET']);
      assert.match(error.message, /PORT must be an integer from 0 to 65535, got "70000"/);
      assert.match(error.message, /MODE must be one of a, b, got "c"/);
      assert.match(error.message, /NAME is required: required name/);
      assert.match(error.message, /LIMIT must be an integer from 1 to 10, got "1.5"/);
      assert.match(error.message, /TARGET must be a redis:\/\/ URL, \(value not shown\)/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    },
  );
});

test('integers refuse what Number() would accept', () => {
  for (const raw of ['0x10', '1e3', '12abc', '-1', '9007199254740993']) {
    assert.throws(() => demo.loadConfig({ LIMIT: raw, NAME: 'x' }, spec), demo.ConfigError, raw);
  }
});

test('the shared cache variables check the prefix as the library does', () => {
  assert.equal(demo.loadConfig({}, demo.cacheConfigSpec).WB_PREFIX, 'wb');
  assert.throws(
    () => demo.loadConfig({ WB_PREFIX: 'has:colon' }, demo.cacheConfigSpec),
    (error: unknown) => error instanceof demo.ConfigError && error.variables[0] === 'WB_PREFIX',
  );
  assert.throws(() => demo.loadConfig({ DATABASE_URL: 'mysql://x' }, demo.cacheConfigSpec), /DATABASE_URL/);
  assert.throws(
    () => demo.loadConfig({ LOG_LEVEL: 'loud' }, demo.cacheConfigSpec),
    /LOG_LEVEL must be one of/,
  );
});

test('describeConfig lists defaults for the README', () => {
  const rows = demo.describeConfig(spec);
  assert.deepEqual(rows[0], { name: 'PORT', default: '3000', description: 'port' });
  assert.equal(rows.find((r) => r.name === 'NAME')?.default, '(required)');
  assert.equal(rows.find((r) => r.name === 'TOKEN')?.default, '(unset)');
});

test('loopback addresses', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
    assert.ok(demo.isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '128.0.0.1'])
    assert.ok(!demo.isLoopback(host), host);
});
