// What health() may show of an error: one line, no credential. No server needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeMessage } from '../../src/health.ts';

test('URL credentials are masked, a password holding @ included, and the message is one line', () => {
  assert.equal(
    safeMessage(new Error('cannot reach redis://user:p@ss:word@10.0.0.1:6379/0\n  (retrying)')),
    'cannot reach redis://user:***@10.0.0.1:6379/0 (retrying)',
  );
  assert.equal(
    safeMessage('at postgresql://postgres:hunter2@db:5432/app and rediss://:s3cret@cache:6380'),
    'at postgresql://postgres:***@db:5432/app and rediss://:***@cache:6380',
  );
  assert.equal(
    safeMessage(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
    'connect ECONNREFUSED 127.0.0.1:6379',
  );
});
