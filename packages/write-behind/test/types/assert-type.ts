// Compile-time assertions for the type tests: `expect<Equal<A, B>>()` fails to compile unless A and B are the
// same type.
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export function expect<_Assertion extends true>(): void {}
