// Guarantee 13: errors that tell the truth. What a failed call of the write script says about its batch
// (write/failure-outcome.ts), and what the writer does with it (write/send-until-known.ts): UnavailableError only
// when Redis certainly did not run it, a resend of the same batch while the outcome is unknown, and
// IndeterminateError when no reply came in time. No server needed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReplyError } from 'ioredis';
import { IndeterminateError, UnavailableError } from '../../src/errors.ts';
import { DEFAULT_OPTIONS, resolveOptions, type WriteBehindOptions } from '../../src/options.ts';
import { counter } from '../../src/schema/fields.ts';
import type { Store } from '../../src/store/store.ts';
import { failureOutcome } from '../../src/write/failure-outcome.ts';
import { FIRST_RESEND_DELAY_MS, sendUntilKnown } from '../../src/write/send-until-known.ts';
import { WriteCallError } from '../../src/write/write-call.ts';

/** A Redis 7 error raised while a script ran, as the server words it. */
const inScript = (message: string) =>
  new ReplyError(`${message} script: 6ec08ad11cab7be51329de2e972aad9465025e75, on @user_script:12.`);

describe('failureOutcome: what a failed call says about its batch', () => {
  const cases: {
    what: string;
    errors: unknown[];
    sends: number[];
    outcome: ReturnType<typeof failureOutcome>;
  }[] = [
    {
      what: 'never written to a connection: not applied, whatever the error',
      errors: [
        new Error('Connection is closed.'),
        new Error(
          'Reached the max retries per request limit (which is 2). Refer to "maxRetriesPerRequest" option for details.',
        ),
        new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'),
        new Error("Stream isn't writeable and enableOfflineQueue options is false"),
        new Error('Command timed out'),
      ],
      sends: [0],
      outcome: 'not-applied',
    },
    {
      what: 'written, then no reply (closed, reset, timed out, redirected too often): unknown',
      errors: [
        new Error('Connection is closed.'),
        new Error('Reached the max retries per request limit (which is 2).'),
        new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 1234 127.0.0.1:7001'),
        new Error('Command timed out'),
        Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
        'not even an Error',
      ],
      sends: [1, 3],
      outcome: 'unknown',
    },
    {
      what: 'refused by Redis before it ran the script, sent once: not applied',
      errors: [
        'NOSCRIPT No matching script. Please use EVAL.',
        'MOVED 1234 127.0.0.1:7001',
        'ASK 1234 127.0.0.1:7001',
        'TRYAGAIN Multiple keys request during rehashing of slot',
        'CLUSTERDOWN The cluster is down',
        "CROSSSLOT Keys in request don't hash to the same slot",
        'LOADING Redis is loading the dataset in memory',
        'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.',
        'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no.',
        'NOAUTH Authentication required.',
        'NOPERM this user has no permissions to access one of the keys used as arguments',
        "READONLY You can't write against a read only replica.",
        "OOM command not allowed when used memory > 'maxmemory'.",
        'MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.',
        'NOREPLICAS Not enough good replicas to write.',
      ].map((message) => new ReplyError(message)),
      sends: [1],
      outcome: 'not-applied',
    },
    {
      what: 'a refusal of the last of several sends: an earlier one may have run, unknown',
      errors: [new ReplyError('NOSCRIPT No matching script.'), new ReplyError('MOVED 1234 127.0.0.1:7001')],
      sends: [2],
      outcome: 'unknown',
    },
    {
      what: 'refused by a write command inside the script before it wrote anything: not applied',
      // Redis refuses these only while the script has written nothing (script.c, scriptVerifyWriteCommandAllow).
      errors: [
        "READONLY You can't write against a read only replica.",
        "OOM command not allowed when used memory > 'maxmemory'.",
        'MISCONF Errors writing to the AOF file: No space left on device',
        'NOREPLICAS Not enough good replicas to write.',
      ].map(inScript),
      sends: [1],
      outcome: 'not-applied',
    },
    {
      what: 'any other error raised while the script ran: it may have written part of the batch',
      errors: [
        ...[
          'WRONGTYPE Operation against a key holding the wrong kind of value',
          "ERR The user executing the script can't run this command or subcommand",
          "ERR user_script:1: Script attempted to access nonexistent global variable 'x'",
          'NOPERM No permissions to access a key',
        ].map(inScript),
        // An error reply this module does not know: Redis may have run something.
        new ReplyError('ERR something new'),
      ],
      sends: [1],
      outcome: 'failed-while-running',
    },
  ];
  for (const { what, errors, sends, outcome } of cases) {
    test(what, () => {
      for (const error of errors) {
        for (const sent of sends)
          assert.equal(failureOutcome(error, sent), outcome, `${String(error)}, sent ${sent}`);
      }
    });
  }
});

/** A send that answers from a script of outcomes: a value, or a failure of the given kind. */
function scriptedSend(
  ...steps: ({ value: string } | { fail: 'not-applied' | 'unknown' | 'failed-while-running' } | 'hang')[]
) {
  const calls: number[] = [];
  const started = Date.now();
  const send = () => {
    calls.push(Date.now() - started);
    const step = steps[Math.min(calls.length, steps.length) - 1];
    if (step === 'hang' || step === undefined) return new Promise<string>(() => {});
    if ('value' in step) return Promise.resolve(step.value);
    return Promise.reject(new WriteCallError(new Error(`failed: ${step.fail}`), step.fail));
  };
  return { send, calls };
}

describe('sendUntilKnown: the same batch until a reply, within writes.resolveTimeoutMs', () => {
  test('the first call answers: its result, sent once', async () => {
    const { send, calls } = scriptedSend({ value: 'ok' });
    assert.equal(await sendUntilKnown(send, 1000), 'ok');
    assert.equal(calls.length, 1);
  });

  test('certainly not applied: UnavailableError at once, no resend', async () => {
    const { send, calls } = scriptedSend({ fail: 'not-applied' }, { value: 'never' });
    const error = await sendUntilKnown(send, 1000).catch((e: unknown) => e);
    assert.ok(error instanceof UnavailableError, String(error));
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, /not applied/);
    assert.equal(calls.length, 1);
  });

  test('unknown, then a reply: the reply (the script applies the batch once however often it comes)', async () => {
    const { send, calls } = scriptedSend({ fail: 'unknown' }, { fail: 'unknown' }, { value: 'replayed' });
    assert.equal(await sendUntilKnown(send, 5000), 'replayed');
    assert.equal(calls.length, 3);
    // Backing off: the first resend after the first pause, the second after twice that.
    assert.ok((calls[1] as number) >= FIRST_RESEND_DELAY_MS - 5, `resent after ${calls[1]} ms`);
    assert.ok((calls[2] as number) - (calls[1] as number) >= 2 * FIRST_RESEND_DELAY_MS - 5);
  });

  test('unknown, then resends Redis certainly did not run: still unknown, never UnavailableError', async () => {
    const { send, calls } = scriptedSend({ fail: 'unknown' }, { fail: 'not-applied' });
    const started = Date.now();
    const error = await sendUntilKnown(send, 400).catch((e: unknown) => e);
    assert.ok(error instanceof IndeterminateError, String(error));
    assert.equal(error.code, 'UNKNOWN_RESULT');
    assert.match(error.message, /may have applied/);
    assert.match(error.message, /writes\.resolveTimeoutMs/);
    assert.ok(calls.length >= 3, `sent ${calls.length} times`);
    assert.ok(Date.now() - started >= 380, 'for the whole deadline');
    assert.ok(Date.now() - started < 1000, 'and not much longer');
  });

  test('unknown, then not applied, then a reply: the reply', async () => {
    const { send } = scriptedSend({ fail: 'unknown' }, { fail: 'not-applied' }, { value: 'applied now' });
    assert.equal(await sendUntilKnown(send, 5000), 'applied now');
  });

  test('a resend that hangs past the deadline: IndeterminateError at the deadline', async () => {
    const { send, calls } = scriptedSend({ fail: 'unknown' }, 'hang');
    const started = Date.now();
    const error = await sendUntilKnown(send, 300).catch((e: unknown) => e);
    assert.ok(error instanceof IndeterminateError, String(error));
    assert.equal(calls.length, 2);
    assert.ok(Date.now() - started < 800, `took ${Date.now() - started} ms`);
  });

  test('resolveTimeoutMs 0: an unknown outcome is IndeterminateError at once, not resent', async () => {
    const { send, calls } = scriptedSend({ fail: 'unknown' }, { value: 'never' });
    const error = await sendUntilKnown(send, 0).catch((e: unknown) => e);
    assert.ok(error instanceof IndeterminateError, String(error));
    assert.match(error.message, /not sent again/);
    assert.equal(calls.length, 1);
  });

  test('failed while running: IndeterminateError at once, never resent (it would repeat what it wrote)', async () => {
    for (const steps of [
      [{ fail: 'failed-while-running' as const }],
      [{ fail: 'unknown' as const }, { fail: 'failed-while-running' as const }, { value: 'never' }],
    ]) {
      const { send, calls } = scriptedSend(...steps);
      const error = await sendUntilKnown(send, 5000).catch((e: unknown) => e);
      assert.ok(error instanceof IndeterminateError, String(error));
      assert.match(error.message, /failed part-way/);
      assert.equal(calls.length, steps.length === 1 ? 1 : 2);
    }
  });

  test('an error that is not a WriteCallError may have gone out: resent', async () => {
    let calls = 0;
    const send = () => (++calls === 1 ? Promise.reject(new Error('from a wrapper')) : Promise.resolve('ok'));
    assert.equal(await sendUntilKnown(send, 1000), 'ok');
    assert.equal(calls, 2);
  });

  test("the error's cause is the original error, without the command ioredis attaches", async () => {
    const original = Object.assign(new Error('Connection is closed.'), {
      command: { name: 'evalsha', args: ['sha', 'secret data'] },
    });
    const send = () => Promise.reject(new WriteCallError(original, 'not-applied'));
    const error = (await sendUntilKnown(send, 0).catch((e: unknown) => e)) as Error;
    assert.ok(error.cause instanceof Error);
    assert.equal(error.cause.message, 'Connection is closed.');
    assert.equal((error.cause as { command?: unknown }).command, undefined);
  });
});

describe('writes.resolveTimeoutMs', () => {
  const options = (writes: unknown) =>
    ({
      redis: 'redis://x',
      store: {} as Store,
      entities: { video: { model: 'Video', fields: { likes: counter() } } },
      writes,
    }) as unknown as WriteBehindOptions;

  test('defaults to 5000; 0 turns resending off', () => {
    assert.equal(DEFAULT_OPTIONS.writes.resolveTimeoutMs, 5000);
    assert.equal(resolveOptions(options(undefined)).writes.resolveTimeoutMs, 5000);
    assert.equal(resolveOptions(options({})).writes.resolveTimeoutMs, 5000);
    assert.equal(resolveOptions(options({ resolveTimeoutMs: 0 })).writes.resolveTimeoutMs, 0);
  });

  test('a bad value or a misspelled name is refused with the option named', () => {
    for (const bad of [-1, 1.5, '5000', 600_001]) {
      assert.throws(() => resolveOptions(options({ resolveTimeoutMs: bad })), /writes\.resolveTimeoutMs/);
    }
    assert.throws(() => resolveOptions(options({ resolveTimeoutMS: 10 })), /resolveTimeoutMs/);
  });
});
