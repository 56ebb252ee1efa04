// The tools' URL redaction (src/redact-url.mjs), which `npm start`, `npm test`, `npm run db:migrate` and the
// benchmark print their servers through; no servers needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from '../../src/redact-url.mjs';

test('a password in a URL, or in a password parameter, is masked; the rest is shown as written', () => {
  assert.equal(redactUrl('postgresql://app:hunter2@db:5432/app'), 'postgresql://app:***@db:5432/app');
  assert.equal(redactUrl('redis://:p@ss@127.0.0.1:6379'), 'redis://:***@127.0.0.1:6379', 'up to the last @');
  assert.equal(
    redactUrl('postgresql://db/app?sslmode=require&password=hunter2'),
    'postgresql://db/app?sslmode=require&password=***',
  );
  assert.equal(
    redactUrl('postgresql://postgres@127.0.0.1:5432/postgres'),
    'postgresql://postgres@127.0.0.1:5432/postgres',
  );
  assert.equal(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
});

test('a REDIS_CLUSTER_NODES list, and text that is no URL', () => {
  assert.equal(redactUrl('redis://u:s3cret@a:6379,b:6379'), 'redis://u:***@a:6379,b:6379');
  assert.equal(redactUrl('a:6379,b:6379'), 'a:6379,b:6379');
  assert.equal(redactUrl('not a url'), 'not a url');
});
