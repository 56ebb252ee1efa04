// A TCP proxy in front of Redis that counts the commands one client process sends through it, by name: what
// INFO commandstats cannot tell apart when other clients share the server. It counts what the client sends
// (a pipeline's or a MULTI's commands one by one, an EVALSHA as one), not the commands a script runs inside
// Redis. The parser is pure and unit-tested (bench/test/unit/command-counter.test.ts).
import { createServer, type Socket, connect as tcpConnect } from 'node:net';

/**
 * Reads RESP requests (arrays of bulk strings, as every client library sends them) from a byte stream that
 * arrives in chunks cut anywhere, and calls `onCommand` with each command's name, lower-case.
 */
export class RequestParser {
  #pending: Buffer = Buffer.alloc(0);
  readonly #onCommand: (name: string) => void;

  constructor(onCommand: (name: string) => void) {
    this.#onCommand = onCommand;
  }

  /** Takes the next chunk; a request cut at its end waits for the next. */
  push(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    let offset = 0;
    for (;;) {
      const parsed = parseRequest(this.#pending, offset);
      if (!parsed) break;
      if (parsed.name !== undefined) this.#onCommand(parsed.name);
      offset = parsed.end;
    }
    this.#pending = this.#pending.subarray(offset);
  }
}

/** The line ending at `from` or later: its text and where the next starts; undefined while incomplete. */
function line(buffer: Buffer, from: number): { text: string; next: number } | undefined {
  const end = buffer.indexOf('\r\n', from);
  return end < 0 ? undefined : { text: buffer.toString('latin1', from, end), next: end + 2 };
}

/**
 * One request from `offset`: its command's name (undefined for an empty array) and where it ends; undefined
 * while the request is incomplete. Throws on bytes that are not a RESP request.
 */
export function parseRequest(buffer: Buffer, offset: number): { name?: string; end: number } | undefined {
  const header = line(buffer, offset);
  if (!header) return undefined;
  if (!header.text.startsWith('*')) {
    // An inline command (`PING\r\n`), which a terminal sends and client libraries do not.
    const name = header.text.trim().split(/\s+/)[0];
    return { ...(name ? { name: name.toLowerCase() } : {}), end: header.next };
  }
  const count = Number(header.text.slice(1));
  if (!Number.isSafeInteger(count)) throw new Error(`not a RESP request: ${JSON.stringify(header.text)}`);
  let position = header.next;
  let name: string | undefined;
  for (let i = 0; i < count; i++) {
    const size = line(buffer, position);
    if (!size) return undefined;
    if (!size.text.startsWith('$')) throw new Error(`not a RESP bulk string: ${JSON.stringify(size.text)}`);
    const length = Number(size.text.slice(1));
    const end = size.next + length + 2;
    if (buffer.length < end) return undefined;
    if (i === 0) name = buffer.toString('latin1', size.next, size.next + length).toLowerCase();
    position = end;
  }
  return { ...(name === undefined ? {} : { name }), end: position };
}

export interface CommandCounter {
  /** Where clients connect instead of Redis: `redis://127.0.0.1:<port>`. */
  url: string;
  /** Commands sent through the proxy so far, by name (a copy). */
  counts(): Map<string, number>;
  close(): Promise<void>;
}

/** Starts the proxy on a free port of 127.0.0.1, in front of the Redis at `target`. */
export async function startCommandCounter(target: { host: string; port: number }): Promise<CommandCounter> {
  const counts = new Map<string, number>();
  const live = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(target.port, target.host);
    live.add(client).add(upstream);
    const parser = new RequestParser((name) => counts.set(name, (counts.get(name) ?? 0) + 1));
    client.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      live.delete(client);
      live.delete(upstream);
    };
    for (const socket of [client, upstream]) socket.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the command counter has no TCP address');
  return {
    url: `redis://127.0.0.1:${address.port}`,
    counts: () => new Map(counts),
    async close() {
      for (const socket of live) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
