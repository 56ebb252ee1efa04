import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitGroups } from '../../src/flush/flush-batcher.ts';

const keys = (names: string[]) => new Map(names.map((n) => [n, n.toUpperCase()]));
const isAppend = (key: string) => key.startsWith('e');

test('append keys go in groups of at most perGroup, in order; every other key in the first group', () => {
  const groups = splitGroups(keys(['e1', 'v1', 'e2', 'e3', 'c1', 'e4', 'e5', 'v2']), isAppend, 2);
  assert.deepEqual(
    groups.map((r) => [...r.keys()]),
    [['e1', 'e2', 'v1', 'c1', 'v2'], ['e3', 'e4'], ['e5']],
  );
  assert.equal(groups[0]?.get('v1'), 'V1', 'each key keeps its value');
});

test('a batch without append keys, or within one group, is one group', () => {
  assert.deepEqual(
    splitGroups(keys(['v1', 'c1']), isAppend, 2).map((r) => [...r.keys()]),
    [['v1', 'c1']],
  );
  assert.deepEqual(
    splitGroups(keys(['e1', 'e2']), isAppend, 2).map((r) => [...r.keys()]),
    [['e1', 'e2']],
  );
  assert.deepEqual(splitGroups(keys([]), isAppend, 2).length, 1);
});
