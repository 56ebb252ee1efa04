// What the flush worker processes of a chaos run logged (`stderrLogger` lines in their captured output):
// warnings and errors counted by message, and the lines of flush jobs that failed, for the report (of the last
// 20,000 characters each worker printed: `WorkerProcess.output`). A refused
// row spends an attempt of its job even when a retry lands it later, so it shows only here.
import { bump, type Counts } from './counts.ts';

/** Lines of failed flush jobs kept in the report, at most. */
const FAILED_LINES_KEPT = 10;
/** Characters kept of each such line. */
const LINE_CHARS = 600;
/** The worker's warning for a job BullMQ failed for stalling: by design (see check.ts), not a failure. */
const STALLED_MESSAGE = 'flush job failed by stalling too often';

export interface WorkerLogs {
  /** Warnings and errors by `<level>: <message>`. */
  counts: Counts;
  /** The first lines (at most 10) of flush jobs that failed, but for stalling: each a row's refusal or worse. */
  failedJobLines: string[];
}

/** `[worker <pid> <level>] <message> <json>` lines of the workers' `outputs`, as {@link WorkerLogs}. */
export function workerLogs(outputs: readonly string[]): WorkerLogs {
  const logs: WorkerLogs = { counts: {}, failedJobLines: [] };
  for (const output of outputs) {
    for (const line of output.split('\n')) {
      const m = /^\s*\[worker \d+ (warn|error)\] (.*)$/.exec(line);
      if (!m) continue;
      const [, level, rest = ''] = m;
      const json = rest.indexOf(' {');
      const message = (json >= 0 ? rest.slice(0, json) : rest).trim();
      bump(logs.counts, `${level}: ${message}`);
      if (
        message.startsWith('flush job failed') &&
        !message.startsWith(STALLED_MESSAGE) &&
        logs.failedJobLines.length < FAILED_LINES_KEPT
      )
        logs.failedJobLines.push(rest.slice(0, LINE_CHARS));
    }
  }
  return logs;
}
