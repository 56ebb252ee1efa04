// Misspelled option names are refused with the closest known name, at every level (the cache's options, the
// worker's, Bull Board's, the field builders', entity definitions), and `undefined` means "the default"
// everywhere. No server needed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveBullBoardOptions } from '../../src/bull-board.ts';
import { closestName, editDistance, withDefaults } from '../../src/check-keys.ts';
import { ConfigurationError } from '../../src/errors.ts';
import {
  DEFAULT_OPTIONS,
  DEFAULT_WORKER_OPTIONS,
  resolveOptions,
  resolveWorkerOptions,
  type WriteBehindOptions,
} from '../../src/options.ts';
import * as fields from '../../src/schema/fields.ts';
import { counter, type EntityDefinitions, enumeration, json, string } from '../../src/schema/fields.ts';
import { resolveEntities } from '../../src/schema/resolve.ts';
import type { Store } from '../../src/store/store.ts';
import { tombstoneTableSql } from '../../src/store/verify.ts';

const store = {} as Store;
const entities = { video: { model: 'Video', fields: { likes: counter() } } };
/** Options the type system would refuse, as a JavaScript caller (or a cast) may still pass them. */
const options = (extra: Record<string, unknown>) =>
  ({ redis: 'redis://x', store, entities, ...extra }) as unknown as WriteBehindOptions<typeof entities>;

/** Asserts `run` throws a ConfigurationError whose message matches every pattern. */
function refused(run: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ConfigurationError, `a ConfigurationError, got ${error}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

describe('closest names', () => {
  test('edit distance counts a swap of neighbours as one edit', () => {
    assert.equal(editDistance('versionFeild', 'versionField'), 1);
    assert.equal(editDistance('nullabel', 'nullable'), 1);
    assert.equal(editDistance('prefx', 'prefix'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('same', 'same'), 0);
  });

  test('case first, then the fewest edits within a third of the name; nothing when nothing is close', () => {
    assert.equal(closestName('windowMS', ['windowMs', 'batchSize']), 'windowMs');
    assert.equal(closestName('prefx', ['prefix', 'shards', 'redis']), 'prefix');
    assert.equal(closestName('concurency', ['concurrency', 'attempts']), 'concurrency');
    assert.equal(closestName('colum', ['column', 'nullable', 'default']), 'column');
    assert.equal(
      closestName('colour', ['column', 'nullable', 'default']),
      undefined,
      'three edits in six letters',
    );
    assert.equal(closestName('banana', ['model', 'key', 'fields']), undefined);
  });
});

describe("the cache's options", () => {
  test('a misspelled top-level option names the closest one', () => {
    refused(
      () => resolveOptions(options({ prefx: 'app' })),
      /^`prefx` is not an option: did you mean `prefix`\?/,
    );
    refused(() => resolveOptions(options({ cacheTTLMs: 5 })), /did you mean `cacheTtlMs`\?/);
    refused(() => resolveOptions(options({ nonsense: 1 })), /^`nonsense` is not an option \(known: redis, /);
  });

  test('a misspelled nested option names its path and the closest name at its level', () => {
    refused(
      () => resolveOptions(options({ flush: { windowMS: 50 } })),
      /^`flush\.windowMS` is not an option: did you mean `windowMs`\? \(flush takes: windowMs, batchSize,/,
    );
    const cases: [Record<string, unknown>, string, string][] = [
      [{ backlog: { limt: 5 } }, 'backlog.limt', 'limit'],
      [{ sweep: { intervallMs: 5 } }, 'sweep.intervallMs', 'intervalMs'],
      [{ limits: { maxIdByte: 5 } }, 'limits.maxIdByte', 'maxIdBytes'],
      [{ waits: { drainTimeout: 5 } }, 'waits.drainTimeout', 'drainTimeoutMs'],
      [{ replication: { replica: 1 } }, 'replication.replica', 'replicas'],
      [{ memory: { maxkeys: 1 } }, 'memory.maxkeys', 'maxKeys'],
      [{ flush: { keepFailed: { cout: 5 } } }, 'flush.keepFailed.cout', 'count'],
    ];
    for (const [extra, path, suggestion] of cases) {
      refused(
        () => resolveOptions(options(extra)),
        new RegExp(`^\`${path.replaceAll('.', '\\.')}\` is not an option: did you mean \`${suggestion}\`\\?`),
      );
    }
  });

  test('a level that is not an object is refused, not ignored', () => {
    refused(() => resolveOptions(options({ flush: 1000 })), /`flush` must be an object, got 1000/);
    refused(() => resolveOptions(options({ backlog: [] })), /`backlog` must be an object, got an array/);
  });

  test('an option given as undefined takes its default, at every level', () => {
    const resolved = resolveOptions(
      options({
        prefix: undefined,
        shards: undefined,
        flush: { windowMs: undefined, batchSize: 7 },
        backlog: { limit: undefined },
        sweep: { intervalMs: undefined },
        limits: { maxIdBytes: undefined },
        waits: { drainTimeoutMs: undefined },
        replication: { timeoutMs: undefined },
        memory: { maxKeys: undefined },
      }),
    );
    assert.equal(resolved.prefix, DEFAULT_OPTIONS.prefix);
    assert.equal(resolved.shards, DEFAULT_OPTIONS.shards);
    assert.equal(resolved.flush.windowMs, DEFAULT_OPTIONS.flush.windowMs);
    assert.equal(resolved.flush.batchSize, 7);
    assert.equal(resolved.backlog.limit, DEFAULT_OPTIONS.backlog.limit);
    assert.equal(resolved.sweep.intervalMs, DEFAULT_OPTIONS.sweep.intervalMs);
    assert.equal(resolved.limits.maxIdBytes, DEFAULT_OPTIONS.limits.maxIdBytes);
    assert.equal(resolved.waits.drainTimeoutMs, DEFAULT_OPTIONS.waits.drainTimeoutMs);
    assert.equal(resolved.replication.timeoutMs, DEFAULT_OPTIONS.replication.timeoutMs);
    assert.equal(resolved.memory.maxKeys, DEFAULT_OPTIONS.memory.maxKeys);
    assert.deepEqual(resolveOptions(options({ flush: undefined })).flush, DEFAULT_OPTIONS.flush);
  });

  test("tombstoneTableSql() without a name uses the option's default", () => {
    assert.equal(tombstoneTableSql(), tombstoneTableSql(DEFAULT_OPTIONS.tombstoneTable));
    assert.match(tombstoneTableSql(), /^CREATE TABLE "write_behind_tombstone" \(/);
  });

  test('withDefaults leaves the defaults object alone', () => {
    const defaults = { a: 1, b: 2 };
    assert.deepEqual(withDefaults(defaults, { a: undefined, b: 3 }), { a: 1, b: 3 });
    assert.deepEqual(defaults, { a: 1, b: 2 });
  });
});

describe("the worker's and Bull Board's options", () => {
  const cache = { shards: 2, concurrency: 10 };

  test('a misspelled worker option names the closest one; undefined takes the default', () => {
    refused(
      () => resolveWorkerOptions({ lockDuration: 100 } as never, cache),
      /^`lockDuration` is not an option of createWorker\(\) \/ runFlushWorker\(\): did you mean `lockDurationMs`\?/,
    );
    refused(() => resolveWorkerOptions({ shard: [0] } as never, cache), /did you mean `shards`\?/);
    assert.deepEqual(resolveWorkerOptions({ lockDurationMs: undefined, shards: undefined }, cache), {
      ...DEFAULT_WORKER_OPTIONS,
      shards: [0, 1],
      concurrency: 10,
    });
  });

  test('a misspelled Bull Board option names the closest one', () => {
    refused(
      () => resolveBullBoardOptions({ basePath: '/q', readonly: true } as never),
      /^`readonly` is not an option of createBullBoardRouter\(\): did you mean `readOnly`\?/,
    );
    assert.equal(resolveBullBoardOptions({ basePath: '/q', readOnly: undefined }).readOnly, false);
  });
});

describe('field builders', () => {
  test('refuse an option name they do not take, naming the closest', () => {
    refused(
      () => string({ nullabel: true } as never),
      /^`nullabel` is not an option of string\(\): did you mean `nullable`\?/,
    );
    refused(() => string({ maxlength: 3 } as never), /did you mean `maxLength`\?/);
    refused(() => counter({ rank: true } as never), /of counter\(\): did you mean `ranked`\?/);
    refused(() => counter({ nullable: true } as never), /`nullable` is not an option of counter\(\)/);
    refused(() => json({ defualt: {} } as never), /of json\(\): did you mean `default`\?/);
    refused(() => enumeration(['A'], { colum: 'x' } as never), /of enumeration\(\): did you mean `column`\?/);
    const { integer, number, decimal, boolean, dateTime } = fields;
    for (const [name, build] of Object.entries({ integer, number, decimal, boolean, dateTime })) {
      refused(
        () => (build as (options: never) => unknown)({ maxLength: 3 } as never),
        new RegExp(`\`maxLength\` is not an option of ${name}\\(\\)`),
      );
    }
  });

  test('take undefined as "not given"', () => {
    assert.deepEqual(string({ maxLength: undefined, column: undefined, default: undefined }), {
      kind: 'string',
      nullable: false,
    });
    assert.deepEqual(counter({ ranked: undefined }), { kind: 'counter', nullable: false });
  });
});

describe('entity definitions', () => {
  const resolve = (definitions: EntityDefinitions) => resolveEntities(definitions, undefined, () => '');

  test('a misspelled key names the entity, the key and the closest name', () => {
    refused(
      () => resolve({ video: { model: 'Video', fields: { likes: counter() }, versionFeild: 'v' } as never }),
      /^`entities\.video\.versionFeild` is not an option: did you mean `versionField`\? \(entities\.video takes: model, append, key, versionField, fields, parents\)/,
    );
    refused(
      () => resolve({ video: { modle: 'Video', fields: { likes: counter() } } as never }),
      /`entities\.video\.modle` is not an option: did you mean `model`\?/,
    );
    refused(
      () =>
        resolve({
          click: { model: 'Click', append: { sequense: 'seq' }, fields: { at: fields.dateTime() } } as never,
        }),
      /`entities\.click\.append\.sequense` is not an option: did you mean `sequence`\?/,
    );
  });

  test('a key given as undefined takes its default', () => {
    const resolved = resolve({
      video: {
        model: 'Video',
        key: undefined,
        versionField: undefined,
        append: undefined,
        fields: { likes: counter() },
      },
    }).get('video');
    assert.equal(resolved?.versionColumn, 'version');
    assert.deepEqual(
      resolved?.key.map((k) => k.field),
      ['id'],
    );
    assert.equal(resolved?.append, undefined);
  });
});
