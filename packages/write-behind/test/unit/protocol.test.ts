// The write script's contract, seen from both sides: the argument layout TypeScript builds, and the status
// codes the Lua declares by name. No server needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shardKeys } from '../../src/keys.ts';
import { resolveIncludes, scriptSource } from '../../src/scripts.ts';
import {
  appendCall,
  createArgs,
  decodeFillReply,
  decodeWriteReply,
  fillArgs,
  generalCall,
  incrementCall,
  NO_CREATE,
  NO_FILL,
  rankingArgs,
  setArgs,
  WriteStatus,
  writeArguments,
} from '../../src/write/protocol.ts';

test('the status codes are the constants write.lua declares, name for name', () => {
  const lua = scriptSource('wbWrite');
  const declared = Object.fromEntries(
    [...lua.matchAll(/^local STATUS_([A-Z_]+) = (\d+)$/gm)].map((m) => [m[1], Number(m[2])]),
  );
  assert.deepEqual(declared, { ...WriteStatus });
});

test('write arguments: the batch header, then op, count and arguments per write', () => {
  const argv = writeArguments(
    shardKeys('p', 0, 1),
    {
      now: 1000,
      backlogLimit: 5,
      cacheTtlMs: 30_000,
      batch: 7,
      keptReplies: 1024,
      writerTtlMs: 60_000,
      maxKeys: 10,
      maxBytes: 2048,
      rankingCap: 500,
    },
    [
      incrementCall('k1', 'likes', 1, -9, 9),
      generalCall('k2', 'del', NO_FILL, NO_CREATE, []),
      generalCall(
        'k3',
        'set',
        fillArgs({ version: 4, pairs: ['theme', 'sdark'] }),
        createArgs(1, ['a', 'z']),
        setArgs(['b', 'n1']),
      ),
      incrementCall('k4', 'likes', 2, -9, 9, '{p:0}:rank:video:likes'),
      incrementCall('k6', 'views', -3, -9, 9, undefined, 'add'),
      appendCall('k7', 100, '["st"]'),
      generalCall(
        'k5',
        'incr',
        NO_FILL,
        createArgs(0, []),
        ['likes', '1', '-9', '9'],
        rankingArgs(['likes', '{p:0}:rank:video:likes']),
      ),
    ],
  );
  assert.deepEqual(argv, [
    1000,
    5,
    30_000,
    7,
    1024,
    60_000,
    '{p:0}:e:'.length,
    10,
    2048,
    500,
    'i',
    4,
    'likes',
    '1',
    '-9',
    '9',
    'del',
    6,
    '',
    '0',
    '0',
    '0',
    '0',
    '0',
    'set',
    13,
    'row',
    '4',
    '1',
    'theme',
    'sdark',
    '1',
    '1',
    'a',
    'z',
    '1',
    'b',
    'n1',
    '0',
    'i',
    5,
    'likes',
    '2',
    '-9',
    '9',
    '{p:0}:rank:video:likes',
    'add',
    4,
    'views',
    '-3',
    '-9',
    '9',
    'a',
    2,
    '100',
    '["st"]',
    'incr',
    12,
    '',
    '0',
    '0',
    '0',
    '0',
    'likes',
    '1',
    '-9',
    '9',
    '1',
    'likes',
    '{p:0}:rank:video:likes',
  ]);
});

test('replies decode into typed results; anything else is an error', () => {
  assert.deepEqual(decodeWriteReply([0, '5', 1_700_000_000_000_001, 'video.v1.v1700000000000001']), {
    status: WriteStatus.OK,
    value: '5',
    version: 1_700_000_000_000_001,
    jobId: 'video.v1.v1700000000000001',
  });
  assert.deepEqual(decodeWriteReply([0, '', 9]), { status: WriteStatus.OK, value: '', version: 9 });
  assert.deepEqual(decodeWriteReply([2, 77]), { status: WriteStatus.BACKLOG_FULL, count: 77 });
  assert.deepEqual(decodeWriteReply([3, '41']), { status: WriteStatus.OVERFLOW, current: '41' });
  assert.deepEqual(decodeWriteReply([8]), { status: WriteStatus.STALE });
  assert.throws(() => decodeWriteReply([42]), /unexpected status/);
  assert.throws(() => decodeWriteReply('OK'), /unexpected reply/);
  assert.deepEqual(decodeFillReply(['ok', ['a', 'b']]), { status: 'ok', hash: ['a', 'b'] });
  assert.deepEqual(decodeFillReply(['stale', []]), { status: 'stale' });
  assert.throws(() => decodeFillReply(['nope', []]), /unexpected reply/);
});

test('a cold key without a row is filled as absent', () => {
  assert.deepEqual(fillArgs({ version: 3 }), ['absent', '3', '0']);
});

test('includes are inlined once each, recursively, and nothing else changes', () => {
  const files: Record<string, string> = {
    a: 'local A = 1\n--- @include "b"',
    b: 'local B = 2\n',
  };
  const out = resolveIncludes(
    '--- @include "a"\n--- @include "b"\nreturn A + B',
    (name) => files[name] as string,
  );
  assert.equal(out, 'local A = 1\nlocal B = 2\n\nreturn A + B');
  for (const name of [
    'wbWrite',
    'wbSweep',
    'wbFill',
    'wbSnapshot',
    'wbJobId',
    'wbAck',
    'wbRankingBuild',
  ] as const) {
    assert.doesNotMatch(scriptSource(name), /@include/, `${name} has every include resolved`);
  }
  assert.match(scriptSource('wbSweep'), /local function flushJobId/);
});
