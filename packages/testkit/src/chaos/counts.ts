/** Counts by name (acknowledged writes by kind, refusals by code, faults by kind). */
export type Counts = Record<string, number>;

export function bump(counts: Counts, name: string, by = 1): void {
  counts[name] = (counts[name] ?? 0) + by;
}

export function sum(counts: Counts): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
