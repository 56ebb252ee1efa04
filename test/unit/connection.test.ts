// Connections the library opens are closed by close(), even while Redis is unreachable, and their errors
// go to the logger without secrets.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

test('close() ends an unreachable connection; the process exits; errors reach the logger without the password', async () => {
  const script = fileURLToPath(new URL('./fixtures/close-unreachable.mts', import.meta.url));
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', script], { timeout: 15_000 }, (error, out, err) =>
      error
        ? reject(Object.assign(error, { stdout: out, stderr: err }))
        : resolve({ stdout: out, stderr: err }),
    );
  });
  assert.match(stdout, /closed warnings=[1-9]/);
  assert.doesNotMatch(stdout, /SECRET LEAKED/);
  assert.doesNotMatch(stderr, /Unhandled error event/);
});
