import assert from 'node:assert/strict';
import test from 'node:test';
import { parseProcStat, postgresCpuTicks } from './proc-cpu.ts';

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
