import type { Queue } from 'bullmq';
import type { FlushJob } from '../flush/job.js';
import { TurnBatcher } from '../turn-batcher.js';

/** Most jobs in one `addBulk`: one pipeline, whose replies the client must hold at once. */
const MAX_JOBS_PER_ADD = 1000;

/**
 * The flush jobs of one event-loop turn go to their queue with one `addBulk`: keys that became dirty together
 * cost one round trip, not one each. Every caller still waits for its own add.
 */
export function createJobBatcher(queue: Queue): TurnBatcher<FlushJob, void> {
  return new TurnBatcher(
    async (jobs) => {
      await queue.addBulk(jobs);
      return jobs.map(() => undefined);
    },
    { maxItems: MAX_JOBS_PER_ADD, schedule: 'immediate' },
  );
}
