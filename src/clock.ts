/**
 * The one source of time for the whole library (ms since the epoch): every module reads it, none reads
 * Date.now() itself. Read at call time, so fake timers in tests drive every part at once.
 */
export const now = (): number => Date.now()
