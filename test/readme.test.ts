// The README's library example runs as written (against a schema of its own).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanupRedis, createTestDatabase, type TestDatabase } from '@write-behind/testkit';

let db: TestDatabase;
const snippet = fileURLToPath(new URL('./fixtures/readme-example.generated.mts', import.meta.url));
before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await rm(snippet, { force: true });
  await cleanupRedis('myapp');
  await db.drop();
});

test('the Library API example in README.md runs and prints what it says', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Library API'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, 'the section has a ts example');
  await cleanupRedis('myapp');
  await writeFile(snippet, code);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', snippet],
      { timeout: 60_000, env: { ...process.env, DATABASE_URL: db.url } },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
    );
  });
  assert.match(stdout, /^1\n\{ likes: 1, views: 0 \}\n$/);
  const { rows } = await db.pool.query(`SELECT likes::int FROM "Video" WHERE id = 'v1'`);
  assert.equal(rows[0]?.likes, 1);
});
