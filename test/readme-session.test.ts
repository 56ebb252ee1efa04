// The root README's "A curl session" replayed as written against `npm start`, every answer compared, the psql
// tables included. `npm start` runs with REDIS_URL and DATABASE_URL set (so it starts no local servers) on the
// test servers, a fresh schema and a fresh key prefix, on free ports; the commands are run by bash as the
// README shows them, with only the address changed (`localhost:3000` to the api's port, the psql URL to the
// fresh schema).
//
// How the README's console blocks are read, so that a README edit needs no edit here:
// - Every ```console block of the section is a part of the session, in order. A line starting with `$ ` is a
//   command (a line ending in `\` continues on the next); the lines up to the next command are its answer.
// - An answer that is JSON is compared as JSON; a psql command's answer as a table (header, cells, row count,
//   not the padding); anything else as text.
// - Values that differ from run to run (clock-based numbers) are named in an HTML comment of the section,
//   `<!-- session-test: vary seq, version -->`: a JSON field or a psql column of one of those names may hold any
//   value, as long as the session is consistent: a value the README shows twice (an event's `seq` in the answer
//   and in the table) must be one value answered twice, and two values it shows differently must differ.
// - Before a psql command the test waits until the worker has flushed everything the session wrote (no key is
//   dirty: `cache.drain()` of a cache on the same prefix), as the README's "about a second later" does, then
//   runs it once: a table that shows a moment before the flush ended (one row of two) fails.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createWriteBehind, type WriteBehind } from '@write-behind/core';
import { type DemoEntities, demoEntities } from '@write-behind/demo';
import {
  cleanupRedis,
  createTestDatabase,
  DATABASE_URL,
  freePort,
  REDIS_URL,
  type TestDatabase,
  testPrefix,
} from '@write-behind/testkit';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const START_TIMEOUT_MS = 90_000;
const FLUSH_TIMEOUT_MS = 20_000;

interface Exchange {
  command: string;
  /** The answer's lines as the README shows them. */
  answer: string[];
}

/** The section `## <title>` of a Markdown document, up to the next `## ` heading. */
function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `the README has a section "${title}"`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/** The commands of every console block of `markdown`, in order, each with the answer shown below it. */
function exchanges(markdown: string): Exchange[] {
  const out: Exchange[] = [];
  for (const block of markdown.matchAll(/```console\n([\s\S]*?)```/g)) {
    const lines = (block[1] as string).replace(/\n$/, '').split('\n');
    let current: Exchange | undefined;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (line.startsWith('$ ')) {
        let command = line.slice(2);
        while (command.endsWith('\\') && i + 1 < lines.length) {
          command = `${command.slice(0, -1).trimEnd()} ${(lines[++i] as string).trim()}`;
        }
        current = { command, answer: [] };
        out.push(current);
      } else {
        assert.ok(current, `a console block starts with a command, not ${JSON.stringify(line)}`);
        current.answer.push(line);
      }
    }
  }
  return out;
}

/** The names declared in `<!-- session-test: vary a, b -->`. */
function varyingNames(markdown: string): Set<string> {
  const declared = /<!--\s*session-test:\s*vary\s+([^>]*?)\s*-->/.exec(markdown);
  return new Set((declared?.[1] ?? '').split(/[\s,]+/).filter(Boolean));
}

/** A psql table: its header cells, its rows' cells (trimmed) and its footer (`(2 rows)`). */
function psqlTable(lines: readonly string[]): { header: string[]; rows: string[][]; footer: string } {
  const cells = (line: string) => line.split('|').map((cell) => cell.trim());
  const [header = '', rule = '', ...rest] = lines.filter((line) => line.trim() !== '');
  assert.match(rule, /^-[-+]*$/, `a psql table, not ${JSON.stringify(lines)}`);
  const footer = rest.pop() ?? '';
  return { header: cells(header), rows: rest.map(cells), footer: footer.trim() };
}

/**
 * The values the README shows for a varying name, bound to those answered (both ways, so that two values shown
 * as one are one, and two shown as different differ).
 */
class Bindings {
  readonly #shownToActual = new Map<string, string>();
  readonly #actualToShown = new Map<string, string>();

  /** Binds `shown` (a value of `name`) to `actual`; a problem when either is already bound otherwise. */
  bind(name: string, shown: string, actual: string): string | undefined {
    const boundActual = this.#shownToActual.get(`${name} ${shown}`);
    if (boundActual !== undefined && boundActual !== actual) {
      return `${name} ${shown} was answered as ${boundActual} before, now ${actual}`;
    }
    const boundShown = this.#actualToShown.get(`${name} ${actual}`);
    if (boundShown !== undefined && boundShown !== shown) {
      return `${name} ${actual} was answered for ${boundShown} before, now for ${shown}`;
    }
    this.#shownToActual.set(`${name} ${shown}`, actual);
    this.#actualToShown.set(`${name} ${actual}`, shown);
    return undefined;
  }
}

/** Compares an answer with the README's; returns the first difference, or undefined when they match. */
function compare(
  exchange: Exchange,
  actual: string,
  varying: ReadonlySet<string>,
  bindings: Bindings,
): string | undefined {
  const shown = exchange.answer.join('\n');
  const actualLines = actual.replace(/\n$/, '').split('\n');
  if (/^psql\b/.test(exchange.command)) {
    const want = psqlTable(exchange.answer);
    let got: ReturnType<typeof psqlTable>;
    try {
      got = psqlTable(actualLines);
    } catch {
      return `not a psql table:\n${actual}`;
    }
    if (JSON.stringify(got.header) !== JSON.stringify(want.header)) return `header ${got.header}`;
    if (got.footer !== want.footer || got.rows.length !== want.rows.length) {
      return `${got.footer}, the README shows ${want.footer}:\n${actual}`;
    }
    for (const [r, row] of want.rows.entries()) {
      for (const [c, cell] of row.entries()) {
        const name = want.header[c] as string;
        const answered = got.rows[r]?.[c] ?? '';
        const problem = varying.has(name)
          ? bindings.bind(name, cell, answered)
          : answered === cell
            ? undefined
            : `row ${r + 1}, ${name}: ${JSON.stringify(answered)}, the README shows ${JSON.stringify(cell)}`;
        if (problem) return `${problem}:\n${actual}`;
      }
    }
    return undefined;
  }
  let shownJson: unknown;
  try {
    shownJson = JSON.parse(shown);
  } catch {
    return actual.replace(/\n$/, '') === shown ? undefined : `answered ${JSON.stringify(actual)}`;
  }
  let actualJson: unknown;
  try {
    actualJson = JSON.parse(actual);
  } catch {
    return `answered ${JSON.stringify(actual)}, not JSON`;
  }
  return compareJson(shownJson, actualJson, varying, bindings, '');
}

function compareJson(
  shown: unknown,
  actual: unknown,
  varying: ReadonlySet<string>,
  bindings: Bindings,
  path: string,
): string | undefined {
  if (shown !== null && typeof shown === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(shown) !== Array.isArray(actual)) {
      return `${path || 'the answer'} is ${JSON.stringify(actual)}`;
    }
    const shownKeys = Object.keys(shown);
    const actualKeys = Object.keys(actual);
    if (JSON.stringify(shownKeys) !== JSON.stringify(actualKeys)) {
      return `${path || 'the answer'} has ${JSON.stringify(actualKeys)}, the README ${JSON.stringify(shownKeys)}`;
    }
    for (const key of shownKeys) {
      const inner = `${path}${Array.isArray(shown) ? `[${key}]` : `.${key}`}`;
      const s = (shown as Record<string, unknown>)[key];
      const a = (actual as Record<string, unknown>)[key];
      const problem =
        !Array.isArray(shown) && varying.has(key) && (s === null || typeof s !== 'object')
          ? bindings.bind(key, String(s), String(a))
          : compareJson(s, a, varying, bindings, inner);
      if (problem) return problem;
    }
    return undefined;
  }
  return shown === actual
    ? undefined
    : `${path}: ${JSON.stringify(actual)}, the README shows ${JSON.stringify(shown)}`;
}

describe('reading the session (no server)', () => {
  test('commands, continuations, answers and the varying names', () => {
    const markdown = [
      '<!-- session-test: vary seq, version -->',
      '```console',
      "$ curl -s -X POST localhost:3000/a -H 'x: y' \\",
      "    -d '{}'",
      '{"id":"v1","seq":17}',
      "$ psql postgresql://x -c 'SELECT id, seq FROM t'",
      ' id | seq',
      '----+-----',
      ' v1 |  17',
      '(1 row)',
      '```',
    ].join('\n');
    const [post, psql] = exchanges(markdown);
    assert.deepEqual(post, {
      command: "curl -s -X POST localhost:3000/a -H 'x: y' -d '{}'",
      answer: ['{"id":"v1","seq":17}'],
    });
    const varying = varyingNames(markdown);
    assert.deepEqual([...varying], ['seq', 'version']);
    const bindings = new Bindings();
    assert.equal(compare(post as Exchange, '{"id":"v1","seq":9001}\n', varying, bindings), undefined);
    assert.equal(
      compare(psql as Exchange, ' id | seq  \n----+------\n v1 | 9001\n(1 row)\n\n', varying, bindings),
      undefined,
    );
    assert.match(
      compare(psql as Exchange, ' id | seq\n----+-----\n v1 | 9002\n(1 row)\n', varying, bindings) ?? '',
      /seq 17 was answered as 9001 before, now 9002/,
    );
    assert.match(
      compare(post as Exchange, '{"id":"v2","seq":9001}', varying, new Bindings()) ?? '',
      /\.id: "v2", the README shows "v1"/,
    );
  });
});

let db: TestDatabase;
let prefix: string;
let started: ChildProcess | undefined;
const output: string[] = [];

/** `npm start`'s command (`node <script>`), from package.json. */
async function startCommand(): Promise<string> {
  const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const script = /^node (\S+)$/.exec(manifest.scripts.start ?? '')?.[1];
  assert.ok(script, `npm start runs one node script, not ${JSON.stringify(manifest.scripts.start)}`);
  return script;
}

function waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = () => {
      if (output.some((line) => pattern.test(line))) return resolve();
      if (started?.exitCode !== null || Date.now() > deadline) {
        return reject(new Error(`npm start: no ${pattern} in:\n${output.join('\n')}`));
      }
      setTimeout(poll, 50);
    };
    poll();
  });
}

function bash(command: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ stdout, stderr, code: error ? Number(error.code ?? 1) : 0 }),
    );
  });
}

describe('the curl session against npm start', () => {
  let apiPort: number;
  /** On the apps' prefix, to wait for their flushes. */
  let observer: WriteBehind<DemoEntities>;
  before(
    async () => {
      db = await createTestDatabase();
      prefix = testPrefix();
      const [api, dashboard, metrics] = [await freePort(), await freePort(), await freePort()];
      apiPort = api;
      observer = createWriteBehind({
        redis: REDIS_URL,
        prisma: db.prisma,
        prefix,
        entities: demoEntities,
        logger: { info() {}, warn() {}, error() {} },
      });
      started = spawn(process.execPath, [await startCommand()], {
        cwd: ROOT,
        // Its own process group, so that `after` can end the apps too if it hangs.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          REDIS_URL,
          DATABASE_URL: db.url,
          WB_PREFIX: prefix,
          API_PORT: String(api),
          DASHBOARD_PORT: String(dashboard),
          METRICS_PORT: String(metrics),
          DASHBOARD_USER: 'readme',
          DASHBOARD_PASSWORD: 'readme-session-password',
          NO_COLOR: '1',
        },
      });
      for (const stream of [started.stdout, started.stderr]) {
        stream?.setEncoding('utf8');
        let partial = '';
        stream?.on('data', (chunk: string) => {
          const lines = (partial + chunk).split('\n');
          partial = lines.pop() ?? '';
          output.push(...lines);
        });
      }
      await waitFor(/"msg":"api listening"/, START_TIMEOUT_MS);
      await waitFor(/"msg":"worker ready"/, START_TIMEOUT_MS);
    },
    { timeout: START_TIMEOUT_MS + 30_000 },
  );

  after(async () => {
    const child = started;
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    await observer?.close();
    await cleanupRedis(prefix);
    await db?.drop();
  });

  test('every command answers what the README shows, the psql tables included', {
    timeout: 120_000,
  }, async () => {
    const readme = section(
      await readFile(new URL('../README.md', import.meta.url), 'utf8'),
      'A curl session',
    );
    const session = exchanges(readme);
    const varying = varyingNames(readme);
    assert.ok(session.length >= 10, `the session has its commands (${session.length})`);
    assert.ok(varying.size > 0, 'the section names the values that vary (<!-- session-test: vary ... -->)');
    const psqlUrl = new URL(DATABASE_URL);
    psqlUrl.search = `?options=${encodeURIComponent(`-c search_path=${db.schema}`)}`;
    const bindings = new Bindings();
    for (const exchange of session) {
      const command = exchange.command
        .replaceAll('localhost:3000', `localhost:${apiPort}`)
        .replace(/\bpostgres(?:ql)?:\/\/\S+/g, `'${psqlUrl}'`);
      assert.notEqual(command, exchange.command, `a command of the session's api or database: ${command}`);
      if (/^psql\b/.test(command)) await observer.drain({ timeoutMs: FLUSH_TIMEOUT_MS });
      const { stdout, stderr, code } = await bash(command);
      const problem =
        code === 0 ? compare(exchange, stdout, varying, bindings) : `exit code ${code}: ${stderr}`;
      if (problem !== undefined) {
        assert.fail(`$ ${exchange.command}\n${problem}\nthe README shows:\n${exchange.answer.join('\n')}`);
      }
    }
  });
});
