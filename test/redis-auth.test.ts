// Redis with a password (requirepass) and with an ACL user, given through the URL: the library works, and
// the password appears in no log line and no error message, also when it is wrong.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WriteBehindError } from '@write-behind/core';
import {
  assertNoSecret,
  createTestDatabase,
  flatten,
  flushingCache,
  incrementRejection,
  type RedisServer,
  recordingLogger,
  startRedis,
  type TestDatabase,
  videoRow,
} from '@write-behind/testkit';
import { Redis } from 'ioredis';

const PASSWORD = 'Zq8pSecretPw91';
const ACL_PASSWORD = 'AclSecretPw73';
const WRONG = 'WrongSecretPw55';
const SECRETS = [PASSWORD, ACL_PASSWORD, WRONG];

let server: RedisServer;
let db: TestDatabase;
const { logger, lines } = recordingLogger();

before(async () => {
  server = await startRedis(['--requirepass', PASSWORD, '--save', '', '--appendonly', 'no'], {
    password: PASSWORD,
  });
  const admin = new Redis({ port: server.port, host: '127.0.0.1', password: PASSWORD });
  await admin.acl('SETUSER', 'wb', 'on', `>${ACL_PASSWORD}`, '~*', '&*', '+@all');
  admin.disconnect();
  db = await createTestDatabase();
});
after(async () => {
  await server.kill();
  await db.drop();
});

for (const [name, url] of [
  ['requirepass', () => `redis://:${PASSWORD}@127.0.0.1:${server.port}`],
  ['an ACL user', () => `redis://wb:${ACL_PASSWORD}@127.0.0.1:${server.port}`],
] as const) {
  test(`works with ${name} in the URL and logs no password`, async () => {
    const prefix = name === 'requirepass' ? 'authpass' : 'authacl';
    const cache = flushingCache({ redis: url(), db, prefix, logger });
    const worker = cache.createWorker({ closeTimeoutMs: 2000 });
    try {
      await worker.ready;
      assert.equal(await cache.increment('video', `${prefix}-v`, 'likes', 3), 3);
      await cache.set('settings', `${prefix}-u`, { language: 'en' });
      await cache.flushed('video', `${prefix}-v`, { timeoutMs: 10_000 });
      assert.equal((await videoRow(db, `${prefix}-v`))?.likes, 3);
    } finally {
      await worker.close();
      await cache.close();
    }
    assertNoSecret(lines.join('\n'), 'a log line', SECRETS);
  });
}

test('a wrong password fails with a WriteBehindError naming no password, and logs none', async () => {
  const error = await incrementRejection({
    redis: `redis://:${WRONG}@127.0.0.1:${server.port}`,
    db,
    prefix: 'authwrong',
    logger,
    what: 'an increment with a wrong password',
  });
  assert.ok(error instanceof WriteBehindError, `got ${flatten(error)}`);
  assertNoSecret(`${error.message} ${error.stack}`, "the error's message and stack", SECRETS);
  assertNoSecret(String(error), 'the error as a string', SECRETS);
  assertNoSecret(lines.join('\n'), 'a log line', SECRETS);
  // ioredis's ReplyError has an enumerable `command`, { name: 'hello', args: ['3', 'AUTH', 'default',
  // <password>] }, which pino's err serializer would print: the cause must not be that error.
  assertNoSecret(
    flatten(error.cause),
    "the error's cause (what a logger serializing err.cause prints)",
    SECRETS,
  );
});
