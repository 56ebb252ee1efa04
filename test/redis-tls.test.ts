// Redis over TLS (`rediss://`), with a password: a private redis-server that serves TLS only (plain port off),
// its certificate signed by a throwaway CA made with openssl. The library works end to end (writes, a worker
// flushes to PostgreSQL) both when the CA is given through an ioredis instance and when a bare URL string is
// trusted the way Node trusts any private CA (NODE_EXTRA_CA_CERTS); an untrusted certificate is refused with
// a WriteBehindError; the password appears in no log line and no error message.
//
// A URL string cannot carry a CA: ioredis turns `rediss://` into `tls: true` with Node's default trust store.
// For a private CA, pass `new Redis('rediss://…', { tls: { ca } })` as `redis`, or start Node with
// NODE_EXTRA_CA_CERTS=<ca.pem>.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { WriteBehindError } from '@write-behind/core';
import {
  assertNoSecret,
  createTestDatabase,
  flatten,
  flushingCache,
  incrementRejection,
  type RedisServer,
  recordingLogger,
  spawnWorkerProcess,
  startRedis,
  type TestDatabase,
  testWorkerConfig,
  videoRow,
} from '@write-behind/testkit';
import { Redis } from 'ioredis';

const PASSWORD = 'TlsSecretPw38';

interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** A CA and a server certificate for 127.0.0.1 and localhost, valid one day, in `dir`. */
function makeCertificates(dir: string): TlsFiles {
  const files = {
    caFile: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    keyFile: join(dir, 'server.key'),
    csr: join(dir, 'server.csr'),
    certFile: join(dir, 'server.crt'),
    extensions: join(dir, 'server.ext'),
  };
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    files.caKey,
    '-out',
    files.caFile,
    '-days',
    '1',
    '-subj',
    '/CN=wb-test-ca',
  );
  openssl('req', ...ecKey, '-keyout', files.keyFile, '-out', files.csr, '-subj', '/CN=localhost');
  writeFileSync(files.extensions, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    ...['x509', '-req', '-in', files.csr, '-CA', files.caFile, '-CAkey', files.caKey, '-CAcreateserial'],
    ...['-out', files.certFile, '-days', '1', '-extfile', files.extensions],
  );
  return files;
}

/**
 * Starts the TLS Redis, or says why this machine cannot: no openssl, or a redis-server built without TLS
 * (7.0 does not know the `tls-*` directives; 7.2+ logs "Missing implement of connection type tls"): a skip,
 * except in CI. Any other failure is a failure.
 */
async function startTlsRedis(dir: string): Promise<{ server: RedisServer; files: TlsFiles } | string> {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
  } catch {
    return 'openssl is not installed; it makes the test certificates';
  }
  const files = makeCertificates(dir);
  try {
    const args = ['--requirepass', PASSWORD, '--save', '', '--appendonly', 'no'];
    return { server: await startRedis(args, { password: PASSWORD, tls: files }), files };
  } catch (error) {
    const message = (error as Error).message;
    if (/Missing implement of connection type tls|>>> 'tls-[^\n]*\n\s*Bad directive/.test(message))
      return `this redis-server was built without TLS: ${message.replace(/\s+/g, ' ').slice(-200)}`;
    throw error;
  }
}

// Certificates before the tests are declared: whether they are skipped depends on them.
const dir = mkdtempSync(join(tmpdir(), 'wb-tls-'));
const started = await startTlsRedis(dir);
const missing = typeof started === 'string' ? started : undefined;
// Skipped on a developer's machine that lacks a prerequisite; in CI (.ci/run installs openssl, and Debian's
// redis-server is built with TLS) the tests run and fail, naming it, rather than skip unnoticed.
const inCi = /^(?!(?:0|false)$)./i.test(process.env.CI ?? '');
const skip = missing !== undefined && !inCi ? missing : false;
const tls = typeof started === 'string' ? undefined : started;
const db: TestDatabase | undefined = tls ? await createTestDatabase() : undefined;

after(async () => {
  await tls?.server.kill();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

function given() {
  assert.ok(tls && db, missing ?? 'set up');
  const url = `rediss://:${PASSWORD}@127.0.0.1:${tls.server.port}`;
  return { tls, db, url, ca: readFileSync(tls.files.caFile) };
}

test('rediss:// with the CA on an ioredis instance: writes reach PostgreSQL, no password logged', {
  skip,
}, async () => {
  const { db, url, ca } = given();
  const { logger, lines } = recordingLogger();
  // The password comes from the URL; the server requires it (requirepass), so it was sent and accepted.
  const redis = new Redis(url, { tls: { ca } });
  const cache = flushingCache({ redis, db, prefix: 'tlsinst', logger });
  // The worker's connections are duplicates of `redis`: TLS options and password included.
  const worker = cache.createWorker({ closeTimeoutMs: 2000 });
  try {
    await worker.ready;
    assert.equal(await cache.increment('video', 'tls-v', 'likes', 3), 3);
    assert.equal(await cache.increment('video', 'tls-v', 'likes', 2), 5);
    await cache.set('settings', 'tls-u', { language: 'fr' });
    await cache.flushed('video', 'tls-v', { timeoutMs: 10_000 });
    await cache.flushed('settings', 'tls-u', { timeoutMs: 10_000 });
    assert.equal((await videoRow(db, 'tls-v'))?.likes, 5);
    const { rows } = await db.pool.query('SELECT language FROM user_settings WHERE user_id = $1', ['tls-u']);
    assert.equal(rows[0]?.language, 'fr');
  } finally {
    await worker.close();
    await cache.close();
    // The library closes only connections it opened itself.
    await redis.quit();
  }
  assertNoSecret(lines.join('\n'), 'a log line', [PASSWORD]);
});

test('a bare rediss:// URL string works once Node trusts the CA (NODE_EXTRA_CA_CERTS)', {
  skip,
}, async () => {
  const { tls, db, url, ca } = given();
  const { logger, lines } = recordingLogger();
  // The flush worker is a child process whose only Redis setting is the URL string.
  const child = spawnWorkerProcess(testWorkerConfig({ prefix: 'tlsurl', db }, { redisUrl: url }), {
    env: { NODE_EXTRA_CA_CERTS: tls.files.caFile },
  });
  const redis = new Redis(url, { tls: { ca } });
  const cache = flushingCache({ redis, db, prefix: 'tlsurl', logger });
  try {
    await child.waitFor('ready', 30_000);
    assert.equal(await cache.increment('video', 'tls-url-v', 'views', 7), 7);
    await cache.flushed('video', 'tls-url-v', { timeoutMs: 15_000 });
    assert.equal((await videoRow(db, 'tls-url-v'))?.views, 7);
  } finally {
    await child.kill();
    await cache.close();
    await redis.quit();
  }
  assertNoSecret(`${child.output()}\n${lines.join('\n')}`, "the URL worker's output or a log line", [
    PASSWORD,
  ]);
});

test('an untrusted certificate is refused with a WriteBehindError naming no password', { skip }, async () => {
  const { db, url } = given();
  const { logger, lines } = recordingLogger();
  // This process does not trust the throwaway CA: the TLS handshake fails on every attempt.
  const error = await incrementRejection({
    redis: url,
    db,
    prefix: 'tlsbad',
    logger,
    what: 'an increment over an untrusted TLS connection',
  });
  assert.ok(error instanceof WriteBehindError, `got ${flatten(error)}`);
  assert.equal(error.code, 'UNAVAILABLE');
  // The error says Redis could not be reached; the log says why.
  assert.match(lines.join('\n'), /SELF_SIGNED_CERT_IN_CHAIN/);
  assertNoSecret(flatten(error), 'the error, its stack and cause', [PASSWORD]);
  assertNoSecret(lines.join('\n'), 'a log line', [PASSWORD]);
});
