// Issue 5: the consistency checker under faults, short version (about 40–60 s with setup and drain). Workers
// are SIGKILLed and replaced, PostgreSQL is cut, a worker is killed right after a flush committed; afterwards
// every key in PostgreSQL and Redis must equal the model of acknowledged writes, and every acknowledged event
// must be stored once under the number `append` answered. The load includes the writes that never read the
// database: `add` (owned videos, and the hot videos every client also increments), whole-record sets and
// `append` to shared event streams; and comments, children of the videos (issue 24): created with a video's
// first write (an `add` alone among them) or on a video, updated, deleted, and deleted with their video. The
// load never asks the database for what its foreign key must refuse, so no job may fail: the flush writes a
// video before its comments and deletes the comments first. Full run: `npm run chaos`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChaosReport, formatReport, runChaos } from '@write-behind/testkit/chaos';

let report: ChaosReport | undefined;

test('acknowledged writes survive worker kills and a database outage: 0 mismatches', async () => {
  report = await runChaos({
    durationMs: 25_000,
    clients: 16,
    videos: 600,
    settings: 300,
    hot: 4,
    streams: 4,
    comments: 2,
    workers: 2,
    killEveryMs: 2500,
    outageMs: 6000,
    outageAt: 0.3,
    verbose: false,
    drainTimeoutMs: 20_000,
  });
  const text = formatReport(report);
  console.log(text);
  assert.equal(report.drainError, undefined, `the clean worker drained everything\n${text}`);
  assert.ok(report.faultsTotal > 0, 'faults were injected');
  assert.ok((report.faults['worker-sigkill'] ?? 0) > 0, 'workers were killed');
  assert.equal(report.faults['pg-outage'], 1, 'PostgreSQL was cut');
  assert.ok(report.acknowledged > 1000, `enough load: ${report.acknowledged} acknowledged`);
  const kinds = ['increment', 'increment-hot', 'add', 'add-hot', 'set-whole', 'delete', 'append'];
  const commentKinds = [
    'video+comment',
    'comment-create',
    'comment-update',
    'comment-delete',
    'delete-video',
  ];
  for (const kind of [...kinds, ...commentKinds])
    assert.ok((report.acknowledgedByKind[kind] ?? 0) > 0, `the load did ${kind}: ${text}`);
  assert.ok(report.commentRows > 0, `comments reached PostgreSQL: ${text}`);
  assert.ok(report.keysChecked >= 900, 'every key was checked');
  assert.ok(report.eventsChecked > 0, 'acknowledged events were checked');
  assert.ok(report.eventRows >= report.eventsChecked, 'every acknowledged event has its row');
  assert.deepEqual(report.unsure, { keys: 0, events: 0 }, `no write of unknown outcome\n${text}`);
  assert.equal(report.mismatches, 0, text);
  // Jobs that stalled twice (their workers killed) are the sweep's by design; any other failed job, one for the
  // order of related rows first of all, is a failure.
  assert.equal(report.failedJobs - report.stalledJobs, 0, `no job failed but by stalling\n${text}`);
  assert.ok(
    !Object.keys(report.rejected).some((code) => code.startsWith('non-library')),
    `every refusal is a WriteBehindError: ${JSON.stringify(report.rejected)}`,
  );
});

// A refused row spends an attempt of its job even when a retry lands it (8 attempts by default, so no job
// fails for it here): the order of related rows must never cost one (guarantee 24).
test('no flush attempt is refused for the order of related rows', () => {
  assert.ok(report, 'the chaos run ran');
  const text = formatReport(report);
  assert.equal(report.flushCounters.rowsRejected ?? 0, 0, `the database refused no row\n${text}`);
  assert.deepEqual(report.workerLogs.failedJobLines, [], `no flush job failed in a worker\n${text}`);
});
