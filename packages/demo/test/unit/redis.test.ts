// REDIS_CLUSTER_NODES: parsing, errors that name the wrong seed without echoing a password, the ioredis
// options it becomes, and that it wins over REDIS_URL (no servers needed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster } from 'ioredis';
import * as demo from '../../src/index.ts';

const spec = demo.cacheConfigSpec;

test('host:port seeds, with or without a scheme and credentials', () => {
  assert.deepEqual(demo.parseClusterNodes('redis-1:6379, redis-2:6380 ,10.0.0.3:7000'), {
    nodes: [
      { host: 'redis-1', port: 6379 },
      { host: 'redis-2', port: 6380 },
      { host: '10.0.0.3', port: 7000 },
    ],
    tls: false,
  });
  assert.deepEqual(demo.parseClusterNodes('rediss://ops:p%40ss@w0rd@node.example.com:6379,[::1]:7001'), {
    nodes: [
      { host: 'node.example.com', port: 6379 },
      { host: '::1', port: 7001 },
    ],
    username: 'ops',
    password: 'p@ss@w0rd',
    tls: true,
  });
  assert.deepEqual(demo.parseClusterNodes('redis://:secret@a:1'), {
    nodes: [{ host: 'a', port: 1 }],
    password: 'secret',
    tls: false,
  });
});

test('a wrong seed is refused, naming it; a password never appears in the message', () => {
  const cases: [string, RegExp][] = [
    ['redis-1', /"redis-1" has no port/],
    ['redis-1:6379,redis-2', /"redis-2" has no port/],
    ['redis-1:', /the port of "redis-1:" is not a number/],
    [':6379', /":6379" has no port/],
    ['redis-1:http', /the port of "redis-1:http" is not a number from 1 to 65535/],
    ['redis-1:0', /the port of "redis-1:0"/],
    ['redis-1:65536', /the port of "redis-1:65536"/],
    ['redis-1:6379,,redis-2:6379', /a seed is empty/],
    [' , ', /no seed is given/],
    ['redis_1!:6379', /"redis_1!" is not a host name or address/],
    ['http://redis-1:6379', /only redis:\/\/ and rediss:\/\//],
    ['redis://ops@redis-1:6379', /a user needs a password/],
  ];
  for (const [raw, expected] of cases) {
    assert.throws(
      () => demo.parseClusterNodes(raw),
      (error: unknown) => error instanceof demo.ClusterNodesError && expected.test(error.message),
      raw,
    );
  }

  assert.throws(
    () => demo.loadConfig({ REDIS_CLUSTER_NODES: 'redis://:hunter2@redis-1:6379,redis-2' }, spec),
    (error: unknown) =>
      error instanceof demo.ConfigError &&
      error.variables.length === 1 &&
      error.variables[0] === 'REDIS_CLUSTER_NODES' &&
      /REDIS_CLUSTER_NODES must be comma-separated host:port seeds/.test(error.message) &&
      /"redis-2" has no port/.test(error.message) &&
      !error.message.includes('hunter2'),
  );
  // Credentials without the scheme in front: the seed would hold the password, so it is not quoted.
  for (const raw of ['ops:hunter2@redis-1:6379', 'redis-1:6379,:hunter2@redis-2:6379']) {
    assert.throws(
      () => demo.parseClusterNodes(raw),
      (error: unknown) =>
        error instanceof demo.ClusterNodesError &&
        /credentials \(user:password@\) go after redis:\/\/ or rediss:\/\//.test(error.message) &&
        !error.message.includes('hunter2'),
      raw,
    );
  }
});

test('unset or empty leaves REDIS_URL in charge; set, it becomes the config value', () => {
  assert.equal(demo.loadConfig({}, spec).REDIS_CLUSTER_NODES, undefined);
  assert.equal(demo.loadConfig({ REDIS_CLUSTER_NODES: '  ' }, spec).REDIS_CLUSTER_NODES, undefined);
  assert.deepEqual(demo.loadConfig({ REDIS_CLUSTER_NODES: 'a:1,b:2' }, spec).REDIS_CLUSTER_NODES, {
    nodes: [
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ],
    tls: false,
  });
});

test('credentials and TLS go to every node; the library retry bound too', () => {
  const plain = demo.clusterOptions(demo.parseClusterNodes('a:1'), 2);
  assert.deepEqual(plain, { redisOptions: { maxRetriesPerRequest: 2 } });
  const secure = demo.clusterOptions(demo.parseClusterNodes('rediss://ops:pw@a:1'), 2);
  assert.deepEqual(secure.redisOptions, {
    maxRetriesPerRequest: 2,
    username: 'ops',
    password: 'pw',
    tls: {},
  });
  // Over TLS the host name is kept for the certificate check instead of being resolved to an address.
  let looked: string | undefined;
  secure.dnsLookup?.('node.example.com', (_error, address) => {
    looked = address;
  });
  assert.equal(looked, 'node.example.com');
});

test('REDIS_CLUSTER_NODES wins over REDIS_URL: the cache gets a Cluster, else the URL', async () => {
  const errors: Error[] = [];
  const options = { maxRetriesPerRequest: 2, onError: (error: Error) => errors.push(error) };
  const single = demo.connectRedis({ REDIS_URL: 'redis://r:6379' }, options);
  assert.equal(single.redis, 'redis://r:6379');
  await single.close();

  // Nothing listens on port 1: the Cluster keeps trying until close() stops it.
  const config = demo.loadConfig({ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: '127.0.0.1:1' }, spec);
  const cluster = demo.connectRedis(config, options);
  assert.ok(cluster.redis instanceof Cluster);
  // The seeds, as ioredis keeps them (a private field: the option given is not kept elsewhere).
  assert.deepEqual((cluster.redis as unknown as { startupNodes: unknown }).startupNodes, [
    { host: '127.0.0.1', port: 1 },
  ]);
  await cluster.close();
  assert.ok(['disconnecting', 'end'].includes(cluster.redis.status), cluster.redis.status);
});
