/** The one source of time: read at call time, so fake timers in tests drive it. */
export const now = (): number => Date.now()
