// Guarantee 11: PostgreSQL `text` cannot hold U+0000. An id or a string value with a NUL byte must be refused up front
// (ValidationError, nothing written), not accepted into Redis and then fail in the database: a cold load
// fails as UNAVAILABLE (a permanent error reported as transient: HTTP 503 "retry later"), and an
// acknowledged value can never be flushed (its job ends in the failed set, the key stays dirty for good).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ValidationError } from '@write-behind/core';
import { createHarness, type Harness } from '@write-behind/testkit';

let h: Harness;
before(async () => {
  h = await createHarness({ flush: { windowMs: 50, backoffMs: 20, attempts: 2 } });
  await h.startWorker();
});
after(() => h.close());

test('an id with a NUL byte is a ValidationError, not UNAVAILABLE', async () => {
  await assert.rejects(h.cache.increment('video', 'a\u0000b', 'likes'), ValidationError);
  await assert.rejects(h.cache.get('video', 'a\u0000b'), ValidationError);
});

test('a string value with a NUL byte is refused and changes nothing', async () => {
  await h.cache.set('settings', 'nul', { language: 'en' });
  await h.cache.flushed('settings', 'nul', { timeoutMs: 10_000 });
  await assert.rejects(h.cache.set('settings', 'nul', { theme: 'da\u0000rk' }), ValidationError);
  assert.equal((await h.cache.get('settings', 'nul'))?.theme, 'light');
  assert.equal((await h.cache.stats()).dirtyKeys, 0);
});
