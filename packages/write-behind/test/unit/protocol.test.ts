// The write script's contract, seen from both sides: the argument layout TypeScript builds, and the status
// codes the Lua declares by name. No server needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveIncludes, scriptSource } from '../../src/scripts.ts';
import {
  createArgs,
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
    { now: 1000, backlogLimit: 5, mayExpire: false, batch: 7, keptReplies: 1024, writerTtlMs: 60_000 },
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
    '0',
    7,
    1024,
    60_000,
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
  for (const name of ['wbWrite', 'wbSweep', 'wbFill', 'wbSnapshot', 'wbJobId'] as const) {
    assert.doesNotMatch(scriptSource(name), /@include/, `${name} has every include resolved`);
  }
  assert.match(scriptSource('wbSweep'), /local function flushJobId/);
});
