// Guarantee 24 with a composite-key parent (the kinds schema's `Team`, key (league, code), and `Athlete`, whose
// foreign key (team_code, league) lists the columns the other way round, ON DELETE RESTRICT): teams and their
// athletes written, updated and deleted in one window over four shards land exact, with 0 failed jobs and no
// foreign key error logged. An athlete whose team is in neither the cache nor the database is a refused row
// whose reason names the team; a team deleted under an athlete names the athlete.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eventually } from '@write-behind/testkit';
import { createRelationsWorld, type RelationsWorld } from './kinds-world.ts';

let w: RelationsWorld;
before(async () => {
  w = await createRelationsWorld({ flush: { windowMs: 200, attempts: 3, backoffMs: 50 } });
});
after(() => w.close());

type TeamId = { league: string; code: string };

async function teamRows(league: string) {
  const { rows } = await w.db.pool.query(
    'SELECT league, team_code AS code, name, wins FROM teams WHERE league = $1 ORDER BY team_code',
    [league],
  );
  return rows;
}

async function athleteRows(league: string) {
  const { rows } = await w.db.pool.query(
    'SELECT id, team_code AS "teamCode", name, goals FROM athletes WHERE league = $1 ORDER BY id',
    [league],
  );
  return rows;
}

const setAthlete = (id: number, team: TeamId, name = `Athlete ${id}`) =>
  w.cache.set('athlete', id, { league: team.league, teamCode: team.code, name });

test("athletes written with their new teams, in other shards, wait while the teams' write is held: exact rows, nothing failed", async () => {
  const mark = w.logs.length;
  // A '/' in a key part: the team's canonical id escapes it, and the athletes' parent keys must agree.
  const league = 'North/East';
  const teamShard = w.shardOf('team', { league, code: 'c0' });
  const teams = w.pick('team', 3, { in: teamShard }, (n) => ({ league, code: `c${n}` }));
  const athletes = teams.flatMap((team, t) =>
    w.pick('athlete', 3, { notIn: teamShard }, (n) => 1000 + 100 * t + n).map((id) => ({ id, team })),
  );
  const rejectedBefore = w.worker.counters.rowsRejected;
  const held = await w.writeWhileHeld(
    { kind: 'upsert', entity: 'team' },
    () =>
      Promise.all([
        ...teams.map((team, t) => w.cache.set('team', team, { name: `Team ${t}` })),
        ...athletes.map(({ id, team }) => setAthlete(id, team)),
      ]),
    { deferred: athletes.length, waiting: 'the athletes were tried and wait for their teams' },
  );
  assert.deepEqual(await athleteRows(league), [], 'no athlete before its team');
  held.release();
  await w.cache.flush();

  assert.deepEqual(
    await teamRows(league),
    teams.map((team, t) => ({ league, code: team.code, name: `Team ${t}`, wins: 0 })),
  );
  assert.deepEqual(
    await athleteRows(league),
    athletes
      .map(({ id, team }) => ({ id, teamCode: team.code, name: `Athlete ${id}`, goals: 0 }))
      .sort((a, b) => a.id - b.id),
  );
  await w.assertNoOrderingCost(mark, rejectedBefore);
});

test('teams and athletes written together, then updated in one window, an athlete moved to a new team: exact rows', async () => {
  const mark = w.logs.length;
  const league = 'South';
  const [a, b, c] = ['a', 'b', 'c'].map((code) => ({ league, code })) as [TeamId, TeamId, TeamId];
  await Promise.all([
    w.cache.set('team', a, { name: 'Ants' }),
    w.cache.set('team', b, { name: 'Bees' }),
    ...[2001, 2002, 2003, 2004].map((id, i) => setAthlete(id, i % 2 === 0 ? a : b)),
  ]);
  await w.cache.flush();
  await Promise.all([
    w.cache.set('team', a, { name: 'Red Ants' }),
    w.cache.increment('team', b, 'wins', 2),
    // A new team and an athlete moved to it, in the same window (in shards that may differ).
    w.cache.set('team', c, { name: 'Cicadas' }),
    setAthlete(2001, c),
    w.cache.increment('athlete', 2002, 'goals', 3),
    w.cache.set('athlete', 2003, { name: 'Renamed' }),
    setAthlete(2005, c),
  ]);
  await w.cache.flush();

  assert.deepEqual(await teamRows(league), [
    { league, code: 'a', name: 'Red Ants', wins: 0 },
    { league, code: 'b', name: 'Bees', wins: 2 },
    { league, code: 'c', name: 'Cicadas', wins: 0 },
  ]);
  assert.deepEqual(await athleteRows(league), [
    { id: 2001, teamCode: 'c', name: 'Athlete 2001', goals: 0 },
    { id: 2002, teamCode: 'b', name: 'Athlete 2002', goals: 3 },
    { id: 2003, teamCode: 'a', name: 'Renamed', goals: 0 },
    { id: 2004, teamCode: 'b', name: 'Athlete 2004', goals: 0 },
    { id: 2005, teamCode: 'c', name: 'Athlete 2005', goals: 0 },
  ]);
  await w.assertNoOrderingCost(mark);
});

test('a team deleted with its athletes in one window waits for their deletes (held): no attempt spent, rows gone', async () => {
  const mark = w.logs.length;
  const league = 'West';
  const team = { league, code: 'w' };
  const teamShard = w.shardOf('team', team);
  const athletes = w.pick('athlete', 4, { notIn: teamShard }, (n) => 3000 + n);
  await w.cache.set('team', team, { name: 'Wolves' });
  await Promise.all(athletes.map((id) => setAthlete(id, team)));
  await w.cache.flush();
  assert.equal((await athleteRows(league)).length, 4);

  const rejectedBefore = w.worker.counters.rowsRejected;
  const held = await w.writeWhileHeld(
    { kind: 'delete', entity: 'athlete' },
    async () => {
      await w.cache.delete('team', team);
      await Promise.all(athletes.map((id) => w.cache.delete('athlete', id)));
    },
    { deferred: 1, waiting: "the team's delete, refused for the athletes, waits for their pending deletes" },
  );
  assert.equal((await teamRows(league)).length, 1, 'the team is still there');
  held.release();
  await w.cache.flush();

  assert.deepEqual(await teamRows(league), []);
  assert.deepEqual(await athleteRows(league), []);
  await w.assertNoOrderingCost(mark, rejectedBefore);
});

test('teams and athletes deleted together in one flush, whatever the order of their batches: rows gone', async () => {
  const mark = w.logs.length;
  const league = 'Central';
  const teams = ['x', 'y', 'z'].map((code) => ({ league, code }));
  await Promise.all(teams.map((team) => w.cache.set('team', team, { name: team.code })));
  await Promise.all(Array.from({ length: 12 }, (_, i) => setAthlete(3100 + i, teams[i % 3] as TeamId)));
  await w.cache.flush();
  const rejectedBefore = w.worker.counters.rowsRejected;
  await Promise.all([
    ...teams.map((team) => w.cache.delete('team', team)),
    ...Array.from({ length: 12 }, (_, i) => w.cache.delete('athlete', 3100 + i)),
  ]);
  await w.cache.flush();
  assert.deepEqual(await teamRows(league), []);
  assert.deepEqual(await athleteRows(league), []);
  await w.assertNoOrderingCost(mark, rejectedBefore);
});

test('an athlete whose team is in neither the cache nor the database fails, naming the team', async () => {
  const ghost = { league: 'Nowhere/Land', code: 'ghost' };
  await setAthlete(4000, ghost);
  assert.ok(await eventually(async () => (await w.failedJobs()).length === 1), 'its job failed');
  assert.deepEqual(await w.failedJobs(), [
    'the database refused athlete "4000": insert or update on table "athletes" violates foreign key constraint "athletes_team_code_league_fkey"; ' +
      'its parent team "Nowhere%2FLand/ghost" (athlete.team: columns league, team_code) is neither in the database nor pending in the cache (23503)',
  ]);
  assert.deepEqual(await athleteRows('Nowhere/Land'), []);
  // The fix: the team is written; a retry of the athlete's job then lands it.
  await w.cache.set('team', ghost, { name: 'Ghosts' });
  await w.cache.flushed('team', ghost);
  await w.retryFailed();
  await w.cache.flush();
  assert.deepEqual(await athleteRows('Nowhere/Land'), [
    { id: 4000, teamCode: 'ghost', name: 'Athlete 4000', goals: 0 },
  ]);
  assert.deepEqual(await w.failedJobs(), []);
});

test('a team deleted while an athlete still points at it (no write of it pending) fails, naming the athlete', async () => {
  const kept = { league: 'Keep/ers', code: 'k' };
  const other = { league: 'Keep/ers', code: 'o' };
  await w.cache.set('team', kept, { name: 'Keepers' });
  await w.cache.set('team', other, { name: 'Others' });
  await setAthlete(4100, kept);
  await w.cache.flush();
  await w.cache.delete('team', kept);
  assert.ok(await eventually(async () => (await w.failedJobs()).length === 1), 'its job failed');
  assert.deepEqual(await w.failedJobs(), [
    'the database refused team "Keep%2Fers/k": update or delete on table "teams" violates foreign key constraint "athletes_team_code_league_fkey" on table "athletes"; ' +
      'rows still point at it with no delete pending in the cache: athlete "4100" (through Athlete.team) (delete or move them first) (23503)',
  ]);
  assert.equal((await teamRows('Keep/ers')).length, 2);
  // The fix: the athlete moves to another team; a retry of the team's delete then lands.
  await setAthlete(4100, other);
  await w.cache.flushed('athlete', 4100);
  await w.retryFailed();
  await w.cache.flush();
  assert.deepEqual(await teamRows('Keep/ers'), [{ league: 'Keep/ers', code: 'o', name: 'Others', wins: 0 }]);
  assert.deepEqual(await w.failedJobs(), []);
});
