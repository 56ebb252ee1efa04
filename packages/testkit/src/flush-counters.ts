// A flush worker's counters before it has flushed anything, for tests of what reads them (`/metrics`) without
// a worker: the library's own starting value, so a new counter is added in one place.
export { ZERO_FLUSH_COUNTERS } from '@write-behind/core/internal';
