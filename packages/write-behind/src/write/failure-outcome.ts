/*
 * What a failed call of the write script says about its batch: whether Redis may have applied it. Pure: the
 * error and how many times the call's command reached a connection (see `tracked-command.ts`) decide.
 */
import { ReplyError } from 'ioredis';

/**
 * - `'not-applied'`: Redis certainly did not run the script. The command never reached a connection (it
 *   waited in ioredis's offline queue until it was failed), or it reached one once and Redis refused it before
 *   running it (an error reply such as `NOSCRIPT`, `MOVED`, `CLUSTERDOWN`, `LOADING`, `READONLY`).
 * - `'unknown'`: it went out and no reply came back (the connection closed or was reset, a timeout, ioredis
 *   "Connection is closed.", "Too many Cluster redirections" after a node died under it): applied or not.
 *   Sending the same batch again tells which, and applies it if it was not.
 * - `'failed-while-running'`: Redis ran the script and it stopped with an error part-way (a type error, an ACL
 *   refusal of one of its commands): what it wrote before the error stays. Sending it again would repeat
 *   that part, so it is not sent again.
 */
export type FailureOutcome = 'not-applied' | 'unknown' | 'failed-while-running';

/**
 * Error replies Redis gives before it runs a script: the command was never run. Codes are the error reply's
 * first word. (`CROSSSLOT`, `MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`: Cluster routing; `NOSCRIPT`: the
 * script is not cached; `LOADING`, `BUSY`, `MASTERDOWN`: the server cannot serve now; `NOAUTH`, `NOPERM`:
 * ACL checks of the command and its declared keys; `READONLY`, `OOM`, `MISCONF`, `NOREPLICAS`: writes denied.)
 */
const REFUSED_BEFORE_RUNNING = new Set([
  'NOSCRIPT',
  'MOVED',
  'ASK',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'CROSSSLOT',
  'LOADING',
  'BUSY',
  'MASTERDOWN',
  'NOAUTH',
  'NOPERM',
  'READONLY',
  'OOM',
  'MISCONF',
  'NOREPLICAS',
  'EXECABORT',
]);

/**
 * Errors a script's own write command may raise in Redis 7 only while the script has written nothing yet
 * (script.c, `scriptVerifyWriteCommandAllow` and `scriptVerifyOOM`: "if the script already made a modification
 * to the dataset, we can't fail it"), so raised inside the script they still mean nothing was applied.
 */
const REFUSED_BEFORE_FIRST_WRITE = new Set(['READONLY', 'OOM', 'MISCONF', 'NOREPLICAS']);

/** Redis 7 ends an error raised while a script ran with "script: <sha>, on @user_script:<line>.". */
const RAISED_WHILE_RUNNING = / script: [0-9a-f]{40}, on @user_script:\d+\.?$/;

/**
 * Whether a failed call of the write script may have applied its batch.
 *
 * @param error what the call rejected with
 * @param sends how many times its command was written to a connection (ioredis sends a command again after a
 *   reconnect, and a Cluster client after a redirection or a closed connection)
 */
export function failureOutcome(error: unknown, sends: number): FailureOutcome {
  if (sends === 0) return 'not-applied';
  if (!isErrorReply(error)) return 'unknown';
  const { message } = error;
  const code = /^\S*/.exec(message)?.[0] ?? '';
  if (RAISED_WHILE_RUNNING.test(message)) {
    return REFUSED_BEFORE_FIRST_WRITE.has(code) ? notAppliedIfOnce(sends) : 'failed-while-running';
  }
  // An error reply to the last send: that send was refused, but an earlier one may have been applied.
  return REFUSED_BEFORE_RUNNING.has(code) ? notAppliedIfOnce(sends) : 'failed-while-running';
}

const notAppliedIfOnce = (sends: number): FailureOutcome => (sends === 1 ? 'not-applied' : 'unknown');

/**
 * An error Redis itself answered with (ioredis's `ReplyError`), as opposed to one the client raised (a closed
 * connection, a timeout, too many redirections, the offline queue flushed).
 */
function isErrorReply(error: unknown): error is Error {
  return error instanceof ReplyError;
}
