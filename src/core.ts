/**
 * What the lazily loaded chunks (the fallback, hedge, throttle and coalesce) use of the core, all through this one
 * module. Why one: a module of the core that a lazy chunk imports goes into a chunk the two share, and the core then
 * imports from that chunk what it uses of the module. Imported one by one, each such module was a chunk of its own
 * (seven in all) and the core paid for each import across them; through here they are one chunk (about 90 B min+gzip
 * less up front, as much with the default options). The up-front fallback stage imports from here too, so that this
 * module sits in that shared chunk rather than in an empty chunk of its own (one more request); nothing else should.
 */
export { follow, keepWith, LOST_AFTER, MAX_TIMER_MS, rekey } from './deadline.js'
export { now } from './clock.js'
export { isRequest, originOf } from './url.js'
export { ThrottledError, TimeoutError } from './errors.js'
export { sharesTimers } from './timers.js'
export { RetryBudget } from './budget.js'
export { isAlone, isOneShot } from './stages/transport.js'
export { aborted, discard, reachedNetwork, refusal } from './stages/types.js'
// Last, and used by no chunk: it makes the whole core reachable from the lazy chunks, so the bundler keeps it in the one
// chunk they share rather than splitting it in two (the core's entry then imported some twenty names across the boundary).
export { createResilientFetch } from './fetch.js'
