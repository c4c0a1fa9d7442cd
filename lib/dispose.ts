/**
 * `Symbol.asyncDispose`, for `await using`. Node 20.20 has it; older Node 20 releases had
 * none, and Node's own polyfill (and libraries following it) used `Symbol.for('nodejs.asyncDispose')`.
 */
export const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ?? (Symbol.for('nodejs.asyncDispose') as typeof Symbol.asyncDispose)
