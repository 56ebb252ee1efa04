import assert from 'node:assert/strict';
import test from 'node:test';
import { machineBusyPercent, parseMachineStat, parseProcStat, postgresCpuTicks } from '../../lib/proc-cpu.ts';

// Field layout of proc(5): pid (comm) state ppid ... utime(14) stime(15) cutime(16) cstime(17) ...
const line = (pid: number, comm: string, ppid: number, [u, s, cu, cs]: number[]) =>
  `${pid} (${comm}) S ${ppid} 1 1 0 -1 4194560 100 0 0 0 ${u} ${s} ${cu} ${cs} 20 0 1 0 100 1000 10`;

test('a stat line parses, even with spaces and parentheses in the command name', () => {
  assert.deepEqual(parseProcStat(line(42, 'post (gres) x', 7, [5, 6, 7, 8])), {
    pid: 42,
    comm: 'post (gres) x',
    ppid: 7,
    own: 11,
    children: 15,
  });
  assert.equal(parseProcStat('garbage'), undefined);
});

test('PostgreSQL CPU counts every postgres process and the postmaster’s exited children, nothing else', () => {
  const stats = [
    line(10, 'postgres', 1, [100, 50, 30, 20]), // postmaster: its children's exited time counts
    line(11, 'postgres', 10, [7, 3, 999, 999]), // a backend: its own children do not (they are not backends)
    line(12, 'redis-server', 1, [1000, 1000, 0, 0]),
  ].map((l) => parseProcStat(l));
  assert.equal(postgresCpuTicks(stats.filter((s) => s !== undefined)), 100 + 50 + 30 + 20 + 7 + 3);
  assert.equal(postgresCpuTicks([]), undefined);
});

test('machine busy time is every state but idle and iowait, in percent of one core', () => {
  const stat = (user: number, idle: number) =>
    `cpu  ${user} 0 ${user / 2} ${idle} 10 0 5 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\ncpu1 1 2 3 4 5 6 7 8 0 0\nintr 1`;
  const from = parseMachineStat(stat(100, 100));
  const to = parseMachineStat(stat(300, 150));
  assert.deepEqual(from, { busy: 155, total: 265, cores: 2 });
  assert.ok(from && to);
  // 300 more busy ticks (200 user + 100 system) of 350: 6/7 of two cores.
  assert.equal(Math.round(machineBusyPercent(from, to)), 171);
  assert.equal(parseMachineStat('intr 1 2 3'), undefined);
});
