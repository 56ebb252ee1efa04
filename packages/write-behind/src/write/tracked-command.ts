/*
 * Whether a failed command ever left this process: the one thing here ioredis does not publish, read in this
 * module alone. `test/tracked-command.test.ts` fails if an upgrade of ioredis changes it.
 *
 * ioredis serializes a command with `Command#toWritable` when, and only when, it writes it to a connection: on
 * a ready connection at once, from its offline queue once the connection is ready, again when it resends the
 * commands a closed connection left unanswered, and for each node a Cluster client sends it to (after a
 * redirection or a closed connection). In a pipeline it is serialized into a buffer that goes out when the
 * whole pipeline is. ioredis's own `Script` hooks the same method, to send a script's source on a socket that
 * has not seen it. A command ioredis failed while it still waited in an offline queue was never serialized.
 */
import type { ChainableCommander, Cluster, Pipeline, Redis } from 'ioredis';
import { Command } from 'ioredis';

/** An ioredis command that counts the times it was written to a connection. */
export class TrackedCommand extends Command {
  /** Times ioredis wrote this command to a connection (or a pipeline's buffer). */
  sends = 0;

  override toWritable(socket: object): string | Buffer {
    this.sends++;
    return super.toWritable(socket);
  }
}

/** A command as the connection's own methods build it: replies decoded as UTF-8, the client's key prefix. */
export function trackedCommand(
  redis: Redis | Cluster,
  name: string,
  args: readonly (string | number)[],
): TrackedCommand {
  const { keyPrefix } = redis.options as { keyPrefix?: string };
  return new TrackedCommand(
    name,
    [...args],
    keyPrefix ? { replyEncoding: 'utf8', keyPrefix } : { replyEncoding: 'utf8' },
  );
}

/** Sends a command on a connection (routed by its keys on a Cluster); resolves with its reply. */
export function sendTracked(redis: Redis | Cluster, command: TrackedCommand): Promise<unknown> {
  redis.sendCommand(command);
  return command.promise;
}

/** Adds a command to a pipeline, as the pipeline's own methods do. */
export function pipelineTracked(pipeline: ChainableCommander, command: TrackedCommand): void {
  (pipeline as unknown as Pipeline).sendCommand(command);
}
