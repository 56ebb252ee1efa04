import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import type { FailureGroup } from './causes.js';
import { canonicalIdOf, type KeyPartInfo } from './ids.js';
import type { ActionResult, EntityInfo, FailureReport, JobInfo, KeyInspection } from './operator.js';
import type { RetryRun } from './router.js';

/*
 * The operator's command line (`npx write-behind ...`): the same inspection and actions as the dashboard's
 * pages, over the operator's JSON API (`createOperatorRouter`) of a running dashboard, for operators who live in a
 * terminal and for runbooks. Node's own `fetch` and `parseArgs`: nothing else to install.
 */

/** The usage text (`write-behind --help`). */
export const USAGE = `write-behind: a write-behind cache's operator console, over a dashboard's operator API

Usage:
  write-behind inspect <entity> <id>            a key's whole story: Redis, PostgreSQL, its flush job, failures
  write-behind flush <entity> <id>              flush a dirty key now
  write-behind retry <entity> <id>              retry a key's failed jobs
  write-behind retry --cause <cause> [--entity <entity>] [--batch-size <n>]
                                                retry every failed job of a cause (a code such as 23503, or a
                                                cause id from 'failures'), in batches
  write-behind discard <entity> <id> [--yes]    drop what Redis holds for a key (its unflushed writes too)
  write-behind failures [--entity <e>] [--cause <c>]
                                                failed jobs grouped by entity and cause

<id> is the key's canonical text (v1, 42, <uuid>/7 for a composite key), or its parts: orgId=<uuid> userId=7.

Options:
  --url <url>          the operator API (env WRITE_BEHIND_URL; default http://127.0.0.1:3001/api)
  --user <name>        HTTP Basic user (env WRITE_BEHIND_USER)
  --password <secret>  HTTP Basic password (env WRITE_BEHIND_PASSWORD; prefer the variable: a flag shows in ps)
  --json               print the API's JSON instead of tables
  --yes                do not ask before a discard (required when no terminal is attached)
  --no-wait            retry --cause: start the run and print its id, without following it
  -h, --help           this text

Exit status: 0 done, 1 refused or failed (the message says why), 2 bad usage.`;

/** Where the command line reads and writes: the process's own, or a test's. */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Asks a yes/no question; undefined when there is no terminal to ask on. */
  ask?: (question: string) => Promise<boolean>;
  fetch?: typeof fetch;
}

class UsageError extends Error {}
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** The process's own I/O, with a terminal question when stdin is one. */
export function processIo(): CliIo {
  return {
    env: process.env,
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    ...(process.stdin.isTTY
      ? {
          ask: async (question: string) => {
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            try {
              return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
            } finally {
              rl.close();
            }
          },
        }
      : {}),
  };
}

/** Runs the command line; resolves to the exit status. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await run(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`write-behind: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof ApiError) {
      io.err(`write-behind: ${error.code ? `${error.code}: ` : ''}${error.message}`);
      return 1;
    }
    io.err(`write-behind: ${(error as Error)?.message ?? String(error)}`);
    return 1;
  }
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    io.out(USAGE);
    return values.help ? 0 : 2;
  }
  const api = client(
    {
      url: values.url ?? io.env.WRITE_BEHIND_URL ?? 'http://127.0.0.1:3001/api',
      user: values.user ?? io.env.WRITE_BEHIND_USER,
      password: values.password ?? io.env.WRITE_BEHIND_PASSWORD,
    },
    io.fetch ?? fetch,
  );
  const [command, ...rest] = positionals;
  const json = (value: unknown) => io.out(JSON.stringify(value, null, 2));
  switch (command) {
    case 'inspect': {
      const { entity, id } = await keyOf(api, rest);
      const story = await api.get<KeyInspection>(`keys/${enc(entity)}/${enc(id)}`);
      if (values.json) json(story);
      else io.out(formatInspection(story));
      return 0;
    }
    case 'flush':
    case 'discard': {
      const { entity, id } = await keyOf(api, rest);
      if (command === 'discard' && !values.yes) {
        const question = `Discard what Redis holds for ${entity} ${id}? Its writes PostgreSQL does not hold yet are dropped.`;
        if (!io.ask) throw new UsageError('discard drops acknowledged writes: confirm with --yes');
        if (!(await io.ask(question))) {
          io.err('not discarded');
          return 1;
        }
      }
      const result = await api.post<ActionResult>(`keys/${enc(entity)}/${enc(id)}/${command}`);
      if (values.json) json(result);
      else io.out(`${command} ${entity} ${id}: ${result.outcome}: ${result.message}`);
      return 0;
    }
    case 'retry': {
      if (values.cause !== undefined) return retryCause(api, io, values);
      const { entity, id } = await keyOf(api, rest);
      const result = await api.post<ActionResult>(`keys/${enc(entity)}/${enc(id)}/retry`);
      if (values.json) json(result);
      else
        io.out(`retry ${entity} ${id}: ${result.outcome}: ${result.message} (${result.jobIds.join(', ')})`);
      return 0;
    }
    case 'failures': {
      const report = await api.get<FailureReport>('failures');
      const groups = report.groups.filter(
        (g) =>
          (values.entity === undefined || g.entity === values.entity) &&
          (values.cause === undefined ||
            g.cause.id === values.cause ||
            (g.cause.code ?? 'none') === values.cause),
      );
      if (values.json) json({ ...report, groups });
      else io.out(formatFailures(report, groups));
      return 0;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      user: { type: 'string' },
      password: { type: 'string' },
      json: { type: 'boolean' },
      yes: { type: 'boolean' },
      'no-wait': { type: 'boolean' },
      cause: { type: 'string' },
      entity: { type: 'string' },
      'batch-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

type Values = ReturnType<typeof parse>['values'];

async function retryCause(api: Client, io: CliIo, values: Values): Promise<number> {
  const batchSize = values['batch-size'] === undefined ? undefined : Number(values['batch-size']);
  if (batchSize !== undefined && (!Number.isSafeInteger(batchSize) || batchSize < 1)) {
    throw new UsageError(`--batch-size must be a whole number of 1 or more, got ${values['batch-size']}`);
  }
  const { run: started } = await api.post<{ run: RetryRun }>('failures/retry', {
    cause: values.cause,
    ...(values.entity === undefined ? {} : { entity: values.entity }),
    ...(batchSize === undefined ? {} : { batchSize }),
  });
  if (values['no-wait']) {
    if (values.json) io.out(JSON.stringify(started, null, 2));
    else io.out(`retry run ${started.id} started; follow it at ${api.base}failures/runs/${started.id}`);
    return 0;
  }
  let run = started;
  let printed = -1;
  for (;;) {
    const p = run.progress;
    if (!values.json && p && p.batch !== printed) {
      printed = p.batch;
      io.err(
        `batch ${p.batch} of ${p.batches}: retried ${p.retried} of ${p.selected}, flushed ${p.flushed}, failed again ${p.failedAgain}`,
      );
    }
    if (run.finishedAt !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
    run = (await api.get<{ run: RetryRun }>(`failures/runs/${enc(run.id)}`)).run;
  }
  if (values.json) io.out(JSON.stringify(run, null, 2));
  const p = run.progress;
  if (run.error) throw new ApiError(503, 'UNAVAILABLE', `the retry stopped: ${run.error}`);
  if (!values.json) {
    io.out(
      p && p.selected > 0
        ? `retried ${p.retried} of ${p.selected} failed jobs in ${p.batches} batch${p.batches === 1 ? '' : 'es'}: ${p.flushed} flushed, ${p.failedAgain} failed again, ${p.pending} still waiting${p.skipped ? `, ${p.skipped} skipped (no longer failed)` : ''}`
        : 'no failed job has that cause',
    );
  }
  return p && p.failedAgain > 0 ? 1 : 0;
}

interface Client {
  base: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
}

function client(
  { url, user, password }: { url: string; user?: string; password?: string },
  fetcher: typeof fetch,
): Client {
  let base: URL;
  try {
    base = new URL(url.endsWith('/') ? url : `${url}/`);
  } catch {
    throw new UsageError(`--url (or WRITE_BEHIND_URL) must be a URL, got ${JSON.stringify(url)}`);
  }
  const headers: Record<string, string> = { accept: 'application/json' };
  if (user !== undefined || password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${user ?? ''}:${password ?? ''}`).toString('base64')}`;
  }
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetcher(new URL(path, base), {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ApiError(0, 'UNREACHABLE', `cannot reach ${base.origin}: ${(error as Error).message}`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      const hint = response.status === 401 ? ' (set WRITE_BEHIND_USER and WRITE_BEHIND_PASSWORD)' : '';
      throw new ApiError(
        response.status,
        error?.code,
        `${error?.message ?? `${response.status} ${response.statusText}`}${hint}`,
      );
    }
    return parsed as T;
  };
  return {
    base: base.href,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
  };
}

const enc = encodeURIComponent;

/** The entity and canonical id of `inspect video v1` or `inspect membership orgId=… userId=7`. */
async function keyOf(api: Client, args: readonly string[]): Promise<{ entity: string; id: string }> {
  const [entity, ...parts] = args;
  if (!entity || parts.length === 0) throw new UsageError('name an entity and an id');
  if (parts.length === 1 && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(parts[0] as string)) {
    return { entity, id: parts[0] as string };
  }
  const { entities } = await api.get<{ entities: EntityInfo[] }>('entities');
  const found = entities.find((e) => e.name === entity);
  if (!found) {
    throw new UsageError(
      `unknown entity ${JSON.stringify(entity)}; entities: ${entities.map((e) => e.name).join(', ')}`,
    );
  }
  const values: Record<string, string> = {};
  for (const part of parts) {
    const equals = part.indexOf('=');
    if (equals < 0)
      throw new UsageError(`give the parts of a ${entity} id as field=value, got ${JSON.stringify(part)}`);
    values[part.slice(0, equals)] = part.slice(equals + 1);
  }
  const key: KeyPartInfo[] = found.key;
  const unknown = Object.keys(values).filter((name) => !key.some((p) => p.field === name));
  if (unknown.length > 0) {
    throw new UsageError(
      `${entity} id has no part ${unknown.join(', ')}; its parts: ${key.map((p) => p.field).join(', ')}`,
    );
  }
  try {
    return { entity, id: canonicalIdOf(key, values) };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function time(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : new Date(ms).toISOString();
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** Rows of text in columns, the first row a header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

function formatJob(job: JobInfo): string {
  const lines = [
    `  ${job.id}  ${job.state}, attempts ${job.attemptsMade} of ${job.attempts}${job.nextRunAt ? `, next run ${time(job.nextRunAt)}` : ''}`,
  ];
  if (job.error)
    lines.push(`  last error: ${job.error.code ? `SQLSTATE ${job.error.code}: ` : ''}${job.error.message}`);
  return lines.join('\n');
}

/** A key's story as text. */
export function formatInspection(story: KeyInspection): string {
  const r = story.redis;
  const d = story.database;
  const fields = r.values ?? d.row ?? Object.fromEntries(Object.keys(r.pending).map((k) => [k, undefined]));
  const rows: string[][] = [['', 'Redis', 'PostgreSQL']];
  for (const name of new Set([...Object.keys(fields), ...Object.keys(d.row ?? {})])) {
    const cached = r.values
      ? show(r.values[name])
      : r.partial
        ? `+${r.pending[name] ?? 0} pending`
        : r.deleted
          ? 'deleted'
          : '—';
    rows.push([name, cached, d.row ? show(d.row[name]) : '—']);
  }
  if (r.events || d.events) {
    rows.push([
      'events',
      r.events ? `${r.events.waiting} waiting` : '—',
      d.events ? `${d.events.count} rows, last ${show(d.events.lastSequence)}` : '—',
    ]);
  }
  rows.push(['version', show(r.version), show(d.version)]);
  const out = [
    `${story.entity} ${story.id}: ${story.state} (shard ${story.shard})`,
    '',
    table(rows),
    '',
    `dirty since: ${r.dirtySince ? time(r.dirtySince) : '—'}`,
    `tombstone: Redis ${r.deleted ? (r.dirty ? 'a delete waits to be flushed' : 'no row') : '—'}; PostgreSQL ${d.tombstone ? `version ${d.tombstone.version} at ${time(d.tombstone.deletedAt)}` : '—'}`,
  ];
  for (const [column, at] of Object.entries(d.updatedAt)) out.push(`${column}: ${time(at)}`);
  if (!d.available) out.push(`PostgreSQL could not be read: ${d.error ?? ''}`);
  for (const ranking of story.rankings) {
    out.push(
      `rank by ${ranking.field}: ${ranking.rank !== null ? `#${ranking.rank} (${ranking.score})` : ranking.score !== null ? `— (${ranking.score}: below the entries the ranking keeps)` : '—'}${ranking.built ? '' : ' (ranking not built)'}`,
    );
  }
  out.push('', 'flush job:', story.job ? formatJob(story.job) : '  none');
  if (story.failures.length > 0) {
    out.push('', `failed jobs (${story.failures.length}):`);
    for (const job of story.failures) out.push(formatJob(job));
  }
  return out.join('\n');
}

/** Failure groups as a table. */
export function formatFailures(report: FailureReport, groups: readonly FailureGroup[]): string {
  if (groups.length === 0) return report.total === 0 ? 'no failed jobs' : 'no failed jobs match';
  const rows = [
    ['entity', 'code', 'jobs', 'keys', 'first seen', 'last seen', 'cause', 'message'],
    ...groups.map((g) => [
      g.entity,
      g.cause.code ?? '—',
      String(g.count),
      String(g.keys),
      time(g.firstSeen),
      time(g.lastSeen),
      g.cause.id,
      g.cause.message,
    ]),
  ];
  const samples = groups.map(
    (g) =>
      `${g.entity} ${g.cause.id}: ${g.sample
        .map((j) => j.id)
        .slice(0, 10)
        .join(', ')}${g.keys > 10 ? ', …' : ''}`,
  );
  return [table(rows), '', 'sample keys:', ...samples].join('\n');
}
