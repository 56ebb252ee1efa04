// A write whose outcome is unknown (IndeterminateError: it may have been applied) is a 503 with its own code,
// UNKNOWN_RESULT, and no Retry-After: unlike UNAVAILABLE (not applied, retry later), a blind retry of a like
// could count it twice. No servers needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IndeterminateError, UnavailableError } from '@write-behind/core';
import request from 'supertest';
import { type ApiCache, createApp } from '../../src/app.ts';
import { toHttpError } from '../../src/errors.ts';

const silent = { info: () => {}, warn: () => {}, error: () => {} };

test('IndeterminateError: 503 UNKNOWN_RESULT saying the write may have been applied, no Retry-After', () => {
  const http = toHttpError(new IndeterminateError('Redis may have applied this write: ...'), 5);
  assert.equal(http.status, 503);
  assert.equal(http.code, 'UNKNOWN_RESULT');
  assert.match(http.message, /may have been applied/);
  assert.deepEqual(http.headers, {});
  const unavailable = toHttpError(
    new UnavailableError('Redis command failed: ... (the write was not applied)'),
    5,
  );
  assert.equal(unavailable.code, 'UNAVAILABLE');
  assert.equal(unavailable.headers['Retry-After'], '5');
});

test('a like whose outcome is unknown answers 503 UNKNOWN_RESULT', async () => {
  const cache = {
    increment: async () => {
      throw new IndeterminateError('Redis may have applied this write: ...');
    },
  } as unknown as ApiCache;
  const response = await request(createApp({ cache, logger: silent }))
    .post('/videos/v/likes')
    .expect(503);
  assert.equal(response.body.error.code, 'UNKNOWN_RESULT');
  assert.match(response.body.error.message, /may have been applied/);
  assert.equal(response.headers['retry-after'], undefined);
});
