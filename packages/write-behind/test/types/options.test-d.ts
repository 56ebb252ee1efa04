// Type tests of option names: checked by `npm run typecheck` (tsc), never run. A misspelled option, entity key
// or field option must not compile (`@ts-expect-error`); what is right, including generic wrappers and JSON
// types declared as interfaces, must. The same names are refused at run time (test/unit/option-names.test.ts).
import {
  counter,
  createWriteBehind,
  type EntityDefinitions,
  type IdOf,
  json,
  string,
  type WriteBehind,
  type WriteBehindOptions,
} from '@write-behind/core';
import { type Equal, expect } from './assert-type.ts';

const base = { redis: 'redis://127.0.0.1:6379', store: undefined as never };

export function entityKeys(): void {
  createWriteBehind({
    ...base,
    entities: {
      video: {
        model: 'Video',
        fields: { likes: counter() },
        // @ts-expect-error a misspelled entity key (versionField)
        versionFeild: 'version',
      },
    },
  });
  createWriteBehind({
    ...base,
    entities: {
      // @ts-expect-error a misspelled entity key (model), which also leaves `model` out
      video: { modle: 'Video', fields: { likes: counter() } },
    },
  });
  createWriteBehind({
    ...base,
    entities: {
      // @ts-expect-error a misspelled key of `append`
      click: { model: 'Click', key: 'videoId', append: { sequense: 'seq' }, fields: { type: string() } },
    },
  });
  // Spelled right, every key infers as before.
  const cache = createWriteBehind({
    ...base,
    entities: {
      video: { model: 'Video', key: { id: 'int' }, versionField: 'rev', fields: { likes: counter() } },
    },
  });
  void cache.increment('video', 1, 'likes');
  // @ts-expect-error the inferred key is still an Int
  void cache.increment('video', 'one', 'likes');
}

export function optionNames(): void {
  const entities = { video: { model: 'Video', fields: { likes: counter() } } } as const;
  // @ts-expect-error a misspelled top-level option (prefix)
  createWriteBehind({ ...base, entities, prefx: 'app' });
  // @ts-expect-error a misspelled nested option (flush.windowMs)
  createWriteBehind({ ...base, entities, flush: { windowMS: 50 } });
  // `undefined` is "the default" wherever an option is optional.
  createWriteBehind({ ...base, entities, prefix: undefined, flush: { windowMs: undefined } });
  const cache = createWriteBehind({ ...base, entities });
  // @ts-expect-error a misspelled worker option (lockDurationMs)
  cache.createWorker({ lockDuration: 100 });
}

export function fieldOptions(): void {
  // @ts-expect-error a misspelled field option (nullable)
  string({ nullabel: true });
  // @ts-expect-error maxLength is a string's alone
  counter({ maxLength: 3 });
  // @ts-expect-error a counter is never nullable
  counter({ nullable: true });
  string({ nullable: true, maxLength: 20, default: null });
}

// json<T>() takes interfaces as well as type aliases, and refuses what JSON cannot hold.
interface Prefs {
  theme: string;
  pinned: string[];
  layout?: { columns: number; dense: boolean | null };
}
type PrefsAlias = { theme: string };
interface WithDate {
  at: Date;
}
interface WithBigint {
  n: bigint;
}
interface WithMethod {
  theme: string;
  render(): string;
}
export function jsonTypes(): void {
  const prefs = json<Prefs>();
  expect<Equal<NonNullable<typeof prefs.__types>['read'], Prefs>>();
  json<Prefs>({ nullable: true, default: null });
  json<PrefsAlias>();
  json<string[]>();
  json<[string, number]>();
  json<number>();
  json();
  // @ts-expect-error a Date is not JSON (it is written as a string and read back as one)
  json<WithDate>();
  // @ts-expect-error a bigint is not JSON
  json<WithBigint>();
  // @ts-expect-error a method is not JSON
  json<WithMethod>();
  // @ts-expect-error undefined is not JSON
  json<undefined>();
}

// A generic wrapper compiles with and without an explicit type argument, and keeps its entities' types.
export function wrapper<E extends EntityDefinitions>(entities: E, options: WriteBehindOptions<E>): void {
  const explicit: WriteBehind<E> = createWriteBehind<E>({ ...base, entities });
  const inferred: WriteBehind<E> = createWriteBehind({ ...base, entities });
  const passed: WriteBehind<E> = createWriteBehind(options);
  void [explicit, inferred, passed];
}

// Entities declared apart, as a variable, keep their key types.
const shared = {
  player: { model: 'Player', key: { id: 'int' }, fields: { score: counter() } },
} as const satisfies EntityDefinitions;
expect<Equal<IdOf<(typeof shared)['player']>, number>>();
export const sharedCache = () => createWriteBehind({ ...base, entities: shared });
