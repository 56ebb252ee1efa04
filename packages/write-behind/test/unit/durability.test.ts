// The pure parts of durability levels: which waits follow a batch, how their replies judge each write, and
// which servers can give 'fsync'.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  confirmationCommands,
  readConfirmation,
  shortfallOf,
  waitAofProblem,
} from '../../src/write/durability.ts';

const settings = { replicas: 2, timeoutMs: 500 };

test('a batch gets WAIT for replicas and WAITAOF for fsync, nothing for memory', () => {
  assert.deepEqual(confirmationCommands(new Set(['memory']), settings), []);
  assert.deepEqual(confirmationCommands(new Set(['replicas', 'memory']), settings), [['WAIT', 2, 500]]);
  assert.deepEqual(confirmationCommands(new Set(['fsync', 'replicas']), settings), [
    ['WAIT', 2, 500],
    ['WAITAOF', 1, 2, 500],
  ]);
});

test('each write is judged by its own level', () => {
  const commands = confirmationCommands(new Set(['replicas', 'fsync']), settings);
  const confirmation = readConfirmation(commands, [
    [null, 2],
    [null, [1, 1]],
  ]);
  assert.equal(shortfallOf('memory', confirmation, settings), undefined);
  assert.equal(shortfallOf('replicas', confirmation, settings), undefined);
  assert.deepEqual(shortfallOf('fsync', confirmation, settings), {
    level: 'fsync',
    confirmed: 1,
    required: 2,
    localFsynced: true,
    timeoutMs: 500,
  });
  const failed = readConfirmation(commands.slice(0, 1), [[new Error('connection lost'), undefined]]);
  assert.equal(shortfallOf('replicas', failed, settings)?.confirmed, 0);
  assert.equal(shortfallOf('replicas', failed, settings)?.cause?.message, 'connection lost');
});

test("'fsync' needs Redis 7.2 and an AOF", () => {
  assert.match(waitAofProblem('redis_version:7.0.15\r\naof_enabled:1', 'x') ?? '', /Redis 7\.0\.15/);
  assert.match(waitAofProblem('redis_version:7.2.4\r\naof_enabled:0', 'x') ?? '', /appendonly no/);
  assert.equal(waitAofProblem('redis_version:7.2.4\r\naof_enabled:1', 'x'), undefined);
  assert.equal(waitAofProblem('redis_version:8.0.0\r\naof_enabled:1', 'x'), undefined);
});
