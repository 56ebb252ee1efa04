import { ConfigurationError } from '../errors.js';
import type { ResolvedEntity } from '../schema/resolve.js';
import type { Store } from '../store/store.js';

/** Throws a `ConfigurationError` when a field is ranked but the store cannot page through its table. */
export function checkRankable(entities: Iterable<ResolvedEntity>, store: Store): void {
  for (const entity of entities) {
    const ranked = entity.fields.find((f) => f.ranked);
    if (ranked && typeof store.scan !== 'function') {
      throw new ConfigurationError(
        `entities.${entity.name}.fields.${ranked.name} is ranked, but the store has no scan() to build the ranking from: implement Store.scan, or declare the counter without ranked`,
      );
    }
  }
}
