import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy whose link can be cut and restored, to stage an outage: in front of PostgreSQL, or of Redis
 * (nothing but `swallowedQueries` and `freezeReplication` knows a protocol).
 */
export interface PgProxy {
  host: string;
  port: number;
  /** Whether the link is cut now. */
  readonly isCut: boolean;
  /** Connections accepted and dropped at once while the link was cut. */
  readonly refused: number;
  /**
   * Messages that clients started sending (query protocol: Parse or simple Query) while the link was frozen:
   * requests that are in flight and will never be answered.
   */
  readonly swallowedQueries: number;
  /** Keeps every connection open but forwards nothing either way, as a network partition does. */
  freeze(): void;
  /**
   * In front of a Redis primary: freezes only the connections over which a replica follows it (those on which
   * the client sent `REPLCONF`, as every replica does before `PSYNC`), dropping what either side sends, while
   * clients and sentinels still reach the primary through the proxy: a partition between primary and replicas.
   */
  freezeReplication(): void;
  /**
   * Keeps every connection open and forwards nothing either way, but loses nothing: what either side sends
   * waits (in the kernel's buffers, by TCP flow control) until {@link release}. A replica held back this way
   * lags its primary for as long as the test wants, then catches up with a stream that has no gap.
   */
  hold(): void;
  /** Ends a {@link hold}: everything sent meanwhile is delivered, in order. */
  release(): void;
  /** Whether the link is held now. */
  readonly isHeld: boolean;
  /**
   * Forwards requests but no replies: the server does the work and the client never hears of it, as when a
   * link dies after the request went out.
   */
  muteReplies(): void;
  /**
   * Destroys every live connection, both sides, and drops new ones as soon as they arrive. With `reset`,
   * clients get a TCP RST (ECONNRESET), as from a crashed load balancer or a firewall, instead of a FIN.
   */
  cut(options?: { reset?: boolean }): void;
  /** Lets new connections and traffic through again. */
  restore(): void;
  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string;
  close(): Promise<void>;
}

/** A replica's handshake (`REPLCONF listening-port`, `REPLCONF capa`) in RESP, which no other client sends. */
const REPLCONF = /\r\nREPLCONF\r\n/i;

export async function startPgProxy(target: { host: string; port: number }): Promise<PgProxy> {
  const live = new Set<Socket>();
  let isCut = false;
  let reset = false;
  let frozen = false;
  let replicationFrozen = false;
  let held = false;
  let muted = false;
  const clients = new Set<Socket>();
  /** Client sockets on which a Redis replica follows its primary (they sent REPLCONF). */
  const replicas = new WeakSet<Socket>();
  let refused = 0;
  let swallowedQueries = 0;

  const track = (socket: Socket) => {
    live.add(socket);
    socket.on('close', () => live.delete(socket));
    // A cut link surfaces as ECONNRESET/EPIPE on either side: expected, and must not crash the test.
    socket.on('error', () => socket.destroy());
  };

  const server: Server = createServer((client) => {
    track(client);
    clients.add(client);
    client.on('close', () => clients.delete(client));
    if (isCut) {
      refused++;
      if (reset) client.resetAndDestroy();
      else client.destroy();
      return;
    }
    const upstream = tcpConnect(target.port, target.host);
    track(upstream);
    if (held) {
      client.pause();
      upstream.pause();
    }
    const isFrozen = () => frozen || (replicationFrozen && replicas.has(client));
    client.on('data', (chunk: Buffer) => {
      if (!replicas.has(client) && REPLCONF.test(chunk.toString('latin1'))) replicas.add(client);
      if (!isFrozen()) {
        upstream.write(chunk);
        return;
      }
      // 'P' (Parse, extended protocol) or 'Q' (simple query) opens a request.
      if (chunk[0] === 0x50 || chunk[0] === 0x51) swallowedQueries++;
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!isFrozen() && !muted) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');

  return {
    host: '127.0.0.1',
    port: address.port,
    get isCut() {
      return isCut;
    },
    get refused() {
      return refused;
    },
    get swallowedQueries() {
      return swallowedQueries;
    },
    freeze() {
      frozen = true;
    },
    freezeReplication() {
      replicationFrozen = true;
    },
    hold() {
      held = true;
      for (const socket of live) socket.pause();
    },
    release() {
      held = false;
      for (const socket of live) socket.resume();
    },
    get isHeld() {
      return held;
    },
    muteReplies() {
      muted = true;
    },
    cut(options = {}) {
      isCut = true;
      reset = options.reset ?? false;
      for (const socket of live) {
        if (reset && clients.has(socket)) socket.resetAndDestroy();
        else socket.destroy();
      }
    },
    restore() {
      isCut = false;
      frozen = false;
      replicationFrozen = false;
      muted = false;
    },
    url(base) {
      const url = new URL(base);
      url.hostname = '127.0.0.1';
      url.port = String(address.port);
      return url.toString();
    },
    async close() {
      for (const socket of live) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The port a URL's server listens on when the URL names none. */
const DEFAULT_PORTS: Record<string, number> = {
  'redis:': 6379,
  'rediss:': 6379,
  'postgres:': 5432,
  'postgresql:': 5432,
};

/** A proxy in front of the server of a `redis://` or `postgresql://` URL (`REDIS_URL`, `DATABASE_URL`). */
export function startProxyTo(url: string): Promise<PgProxy> {
  const target = new URL(url);
  const defaultPort = DEFAULT_PORTS[target.protocol];
  if (defaultPort === undefined)
    throw new TypeError(`no default port for ${JSON.stringify(target.protocol)}`);
  return startPgProxy({ host: target.hostname, port: Number(target.port || defaultPort) });
}
