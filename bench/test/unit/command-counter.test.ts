// Unit tests for the RESP request parser of O1's counting proxy: `npm run test:unit` (no servers needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '@write-behind/testkit';
import { parseRequest, RequestParser } from '../../lib/command-counter.ts';

/** A request as client libraries send it: an array of bulk strings. */
function request(...words: string[]): string {
  return `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;
}

const PIPELINE = [
  request('MULTI'),
  request('ZCARD', '{p:0}:dirty'),
  request('ZRANGE', '{p:0}:dirty', '0', '0', 'WITHSCORES'),
  // A value holding what looks like a request must not be read as one.
  request('SET', 'k', '*1\r\n$4\r\nPING\r\n'),
  request('EXEC'),
  request('evalsha', 'a'.repeat(40), '1', 'key', 'arg'),
  'PING\r\n',
].join('');
const NAMES = ['multi', 'zcard', 'zrange', 'set', 'exec', 'evalsha', 'ping'];

test('a pipeline in one chunk: each command by its name, lower-case', () => {
  const names: string[] = [];
  new RequestParser((name) => names.push(name)).push(Buffer.from(PIPELINE));
  assert.deepEqual(names, NAMES);
});

test('the same pipeline cut anywhere: the same commands, none before it is whole', () => {
  const random = mulberry32(7);
  const bytes = Buffer.from(PIPELINE);
  for (let run = 0; run < 200; run++) {
    const names: string[] = [];
    const parser = new RequestParser((name) => names.push(name));
    for (let at = 0; at < bytes.length; ) {
      const size = 1 + Math.floor(random() * 12);
      parser.push(bytes.subarray(at, at + size));
      at += size;
    }
    assert.deepEqual(names, NAMES, `run ${run}`);
  }
});

test('an incomplete request answers undefined; a whole one where it ends', () => {
  const whole = Buffer.from(request('GET', 'key'));
  assert.equal(parseRequest(whole.subarray(0, whole.length - 1), 0), undefined);
  assert.deepEqual(parseRequest(whole, 0), { name: 'get', end: whole.length });
});

test('bytes that are not a request are refused', () => {
  assert.throws(() => parseRequest(Buffer.from('*2\r\n:1\r\n'), 0), /not a RESP bulk string/);
  assert.throws(() => parseRequest(Buffer.from('*x\r\n'), 0), /not a RESP request/);
});
