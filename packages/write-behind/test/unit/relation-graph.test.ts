// The relation graph on names alone: each entity's depth (the order a flush writes and deletes in) and the
// cycles no order can serve. No server needed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findCycle, type RelationEdge, relationDepths } from '../../src/schema/relation-graph.ts';

const edge = (child: string, parent: string, name = parent): RelationEdge => ({ child, parent, name });

describe('relationDepths', () => {
  test('0 without parents, else one more than the deepest parent', () => {
    const depths = relationDepths(
      ['flag', 'comment', 'video', 'channel', 'loose'],
      [edge('flag', 'comment'), edge('comment', 'video'), edge('video', 'channel'), edge('flag', 'channel')],
    );
    assert.deepEqual(Object.fromEntries(depths), { flag: 3, comment: 2, video: 1, channel: 0, loose: 0 });
  });

  test('a diamond: the deepest path counts', () => {
    const depths = relationDepths(
      ['bottom', 'left', 'right', 'top', 'mid'],
      [
        edge('bottom', 'left'),
        edge('bottom', 'right'),
        edge('left', 'top'),
        edge('right', 'mid'),
        edge('mid', 'top'),
      ],
    );
    assert.deepEqual(Object.fromEntries(depths), { bottom: 3, left: 1, right: 2, top: 0, mid: 1 });
  });

  test('an entity that is its own parent is not deeper than itself', () => {
    const depths = relationDepths(
      ['comment', 'video'],
      [edge('comment', 'comment', 'replyTo'), edge('comment', 'video')],
    );
    assert.deepEqual(Object.fromEntries(depths), { comment: 1, video: 0 });
    assert.deepEqual(Object.fromEntries(relationDepths(['note'], [edge('note', 'note', 'replyTo')])), {
      note: 0,
    });
  });

  test('two relations to one parent count once', () => {
    const depths = relationDepths(
      ['transfer', 'account'],
      [edge('transfer', 'account', 'from'), edge('transfer', 'account', 'to')],
    );
    assert.deepEqual(Object.fromEntries(depths), { transfer: 1, account: 0 });
  });

  test('on a cycle it throws: findCycle must come first', () => {
    assert.throws(() => relationDepths(['a', 'b'], [edge('a', 'b'), edge('b', 'a')]), {
      message: 'relationDepths: a cycle through a; call findCycle first',
    });
  });
});

describe('findCycle', () => {
  test('none in a graph without cycles, self-references and parallel relations included', () => {
    assert.equal(findCycle([], []), undefined);
    assert.equal(
      findCycle(
        ['flag', 'comment', 'video', 'transfer', 'account'],
        [
          edge('flag', 'comment'),
          edge('comment', 'video'),
          edge('comment', 'comment', 'replyTo'),
          edge('flag', 'video'),
          edge('transfer', 'account', 'from'),
          edge('transfer', 'account', 'to'),
        ],
      ),
      undefined,
    );
    assert.equal(findCycle(['comment'], [edge('comment', 'comment', 'replyTo')]), undefined);
  });

  test('two entities, each the parent of the other: both edges, in order', () => {
    assert.deepEqual(
      findCycle(['author', 'book'], [edge('author', 'book', 'featuredBook'), edge('book', 'author')]),
      [edge('author', 'book', 'featuredBook'), edge('book', 'author')],
    );
  });

  test("three in a ring, reached through a tail: the ring's edges alone, from where it closes", () => {
    assert.deepEqual(
      findCycle(
        ['tail', 'alpha', 'beta', 'gamma'],
        [edge('tail', 'alpha'), edge('alpha', 'beta'), edge('beta', 'gamma'), edge('gamma', 'alpha')],
      ),
      [edge('alpha', 'beta'), edge('beta', 'gamma'), edge('gamma', 'alpha')],
    );
  });

  test('a cycle behind entities already found acyclic, with a self-reference in it', () => {
    assert.deepEqual(
      findCycle(
        ['video', 'comment', 'a', 'b'],
        [
          edge('comment', 'video'),
          edge('a', 'video'),
          edge('a', 'a', 'self'),
          edge('a', 'b', 'toB'),
          edge('b', 'a', 'toA'),
        ],
      ),
      [edge('a', 'b', 'toB'), edge('b', 'a', 'toA')],
    );
  });
});
