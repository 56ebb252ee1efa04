/*
 * The graph of entities by their relations, child → parent: the order a flush writes them in, and the cycles
 * that no order can serve. Pure, on names alone; unit-tested without servers.
 */

/** A child entity's rows need rows of the parent entity (a foreign key). */
export interface RelationEdge {
  child: string;
  parent: string;
  /** The relation's name on the child's side (a Prisma relation field, or a name under `parents`). */
  name: string;
}

/**
 * Each entity's depth: 0 without parents, else one more than its deepest parent. A flush writes rows by
 * ascending depth (parents before children) and deletes by descending depth (children before parents). An
 * entity that is its own parent (a comment replying to a comment) is not deeper than itself: its rows of
 * one batch go in one statement, which PostgreSQL checks against its foreign keys once, at its end. Call it
 * on a graph without other cycles (see {@link findCycle}).
 */
export function relationDepths(
  names: readonly string[],
  edges: readonly RelationEdge[],
): Map<string, number> {
  const parentsOf = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const edge of edges) {
    if (edge.child !== edge.parent) parentsOf.get(edge.child)?.push(edge.parent);
  }
  const depths = new Map<string, number>();
  const depthOf = (name: string, path: Set<string>): number => {
    const known = depths.get(name);
    if (known !== undefined) return known;
    if (path.has(name)) throw new Error(`relationDepths: a cycle through ${name}; call findCycle first`);
    path.add(name);
    let depth = 0;
    for (const parent of parentsOf.get(name) ?? []) depth = Math.max(depth, depthOf(parent, path) + 1);
    path.delete(name);
    depths.set(name, depth);
    return depth;
  };
  for (const name of names) depthOf(name, new Set());
  return depths;
}

/**
 * A cycle of two or more entities (each a parent of the next, the last a parent of the first), as its edges
 * in order; `undefined` when there is none. An entity that is its own parent is not such a cycle.
 */
export function findCycle(
  names: readonly string[],
  edges: readonly RelationEdge[],
): RelationEdge[] | undefined {
  const out = new Map<string, RelationEdge[]>(names.map((n) => [n, []]));
  for (const edge of edges) {
    if (edge.child !== edge.parent) out.get(edge.child)?.push(edge);
  }
  const done = new Set<string>();
  const onPath: RelationEdge[] = [];
  const visiting = new Set<string>();
  const visit = (name: string): RelationEdge[] | undefined => {
    if (done.has(name)) return undefined;
    visiting.add(name);
    for (const edge of out.get(name) ?? []) {
      onPath.push(edge);
      if (visiting.has(edge.parent)) {
        return onPath.slice(onPath.findIndex((e) => e.child === edge.parent));
      }
      const cycle = visit(edge.parent);
      if (cycle) return cycle;
      onPath.pop();
    }
    visiting.delete(name);
    done.add(name);
    return undefined;
  };
  for (const name of names) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
}
