// The apps' one redaction path (no servers needed): what a Redactor masks, what it keeps of an error, and
// that a logger made by createLogger writes no secret whatever it is given. The apps as real processes
// against wrong passwords: test/secrets.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  cacheConfigSpec,
  configSecrets,
  createLogger,
  loadConfig,
  MASK,
  Redactor,
  redactUrl,
  text,
  urlSecrets,
} from '../../src/index.ts';

/** A distinctive secret per run, with characters that URLs encode. */
const SECRET = `pw${randomBytes(6).toString('hex')}@/:%`;
const ENCODED = encodeURIComponent(SECRET);

/** An error as ioredis makes it: the failed command, and the earlier errors, attached. */
function ioredisError(): Error {
  const error = new Error('WRONGPASS invalid username-password pair or user is disabled.');
  error.name = 'ReplyError';
  const command = { name: 'hello', args: ['3', 'AUTH', 'default', SECRET] };
  return Object.assign(error, { command, previousErrors: [{ command }] });
}

test('URL credentials are masked in any text, known secrets wherever they appear', () => {
  const redactor = new Redactor([SECRET]);
  assert.equal(
    redactor.text(`connecting to redis://default:${ENCODED}@redis:6379/0 failed`),
    `connecting to redis://default:${MASK}@redis:6379/0 failed`,
  );
  // A password that contains `@` unencoded (as REDIS_CLUSTER_NODES allows): masked up to the last `@`.
  assert.equal(
    redactUrl('rediss://ops:p@ss@w0rd@node-1:6379,node-2:6379'),
    `rediss://ops:${MASK}@node-1:6379,node-2:6379`,
  );
  assert.equal(redactUrl('postgresql://app:hunter2@db:5432/app'), `postgresql://app:${MASK}@db:5432/app`);
  assert.equal(
    redactUrl('postgresql://db/app?user=app&password=hunter2&sslmode=require'),
    `postgresql://db/app?user=app&password=${MASK}&sslmode=require`,
  );
  // A user name alone is no secret, and text without URLs is left as it is.
  assert.equal(redactUrl('redis://ops@redis:6379'), 'redis://ops@redis:6379');
  assert.equal(redactor.text('nothing to hide'), 'nothing to hide');
  // Known secrets, as written or percent-encoded, also outside any URL.
  assert.equal(redactor.text(`AUTH default ${SECRET}`), `AUTH default ${MASK}`);
  assert.equal(redactor.text(`?p=${ENCODED}`), `?p=${MASK}`);
});

test('an error keeps what went wrong, and loses what was attached to it', () => {
  const redactor = new Redactor([SECRET]);
  const cause = ioredisError();
  const wrapped = new Error(`Redis command failed: ${cause.message}`, { cause });
  Object.assign(wrapped, { code: 'UNAVAILABLE' });
  const safe = redactor.error(wrapped);
  assert.equal(safe.type, 'Error');
  assert.equal(safe.code, 'UNAVAILABLE');
  assert.match(safe.stack ?? '', /^Error: Redis command failed: WRONGPASS/);
  assert.deepEqual(Object.keys(safe.cause as object).sort(), ['message', 'stack', 'type']);
  assert.equal((safe.cause as { type: string }).type, 'ReplyError');
  assert.ok(!JSON.stringify(safe).includes(SECRET));

  // A Cluster's "Failed to refresh slots cache" is only true with the node error attached to it: kept.
  const cluster = Object.assign(new Error('Failed to refresh slots cache.'), {
    name: 'ClusterAllFailedError',
    lastNodeError: ioredisError(),
  });
  const safeCluster = redactor.error(cluster);
  assert.match(JSON.stringify(safeCluster.lastNodeError), /WRONGPASS/);
  assert.ok(!JSON.stringify(safeCluster).includes(SECRET));

  // Node's URL errors carry the whole input.
  let urlError: unknown;
  try {
    new URL(`not a url ${SECRET}`);
  } catch (error) {
    urlError = error;
  }
  assert.ok(JSON.stringify((urlError as { input: string }).input).includes('not a url'));
  assert.ok(!JSON.stringify(redactor.error(urlError)).includes(SECRET));
});

test('a logger from createLogger writes no secret, whatever it is given', () => {
  const lines: string[] = [];
  const destination = { write: (line: string) => lines.push(line) };
  const logger = createLogger({ name: 'test', level: 'info', secrets: [SECRET], destination });
  const url = `redis://default:${ENCODED}@127.0.0.1:6379`;
  const circular: Record<string, unknown> = { url };
  circular.self = circular;

  logger.warn({ err: ioredisError() }, 'could not collect metrics');
  logger.error(ioredisError());
  logger.error(ioredisError(), 'with a message of its own');
  logger.info(`connecting to ${url}`);
  logger.info('connecting to %s as %o', url, { password: SECRET });
  logger.info({ nested: { deeper: [{ url }] }, circular }, 'objects in depth');
  logger.child({ component: 'child' }).warn({ err: new Error(`echoed ${SECRET}`) }, 'from a child');
  logger.info({ client: { options: { password: SECRET } } }, 'a client logged by mistake');

  assert.equal(lines.length, 8);
  for (const line of lines) {
    assert.ok(!line.includes(SECRET) && !line.includes(ENCODED), `a secret in ${line}`);
    JSON.parse(line);
  }
  const [metrics, lone, lonePlusMessage] = lines.map((line) => JSON.parse(line));
  // The error is still reported, as pino would: type, message and stack under `err`.
  assert.equal(metrics.err.type, 'ReplyError');
  assert.match(metrics.err.message, /^WRONGPASS/);
  assert.equal(metrics.err.command, undefined);
  assert.equal(metrics.err.previousErrors, undefined);
  assert.equal(lone.msg, 'WRONGPASS invalid username-password pair or user is disabled.');
  assert.equal(lone.err.type, 'ReplyError');
  assert.equal(lonePlusMessage.msg, 'with a message of its own');
  assert.match(lines[3] ?? '', /redis:\/\/default:\*\*\*@127\.0\.0\.1:6379/);
});

test('configSecrets: the passwords of the URL variables and of REDIS_CLUSTER_NODES, and secret text', () => {
  const config = loadConfig(
    {
      REDIS_URL: `redis://default:${ENCODED}@redis:6379`,
      DATABASE_URL: 'postgresql://app@db:5432/app?password=dbsecret',
      REDIS_CLUSTER_NODES: 'redis://ops:clustersecret@node-1:6379',
    },
    cacheConfigSpec,
  );
  assert.deepEqual(
    configSecrets(cacheConfigSpec, config).sort(),
    [ENCODED, SECRET, 'clustersecret', 'dbsecret'].sort(),
  );
  const spec = { PASSWORD: text({ secret: true, description: 'a password' }) };
  assert.deepEqual(configSecrets(spec, loadConfig({ PASSWORD: 'a:b' }, spec)), ['a:b']);
  assert.deepEqual(urlSecrets('redis://redis:6379'), []);
  assert.deepEqual(urlSecrets('not a url'), []);
});
