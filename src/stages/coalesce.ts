import { aborted, discard, follow, isRequest, keepWith, LOST_AFTER, MAX_TIMER_MS, now, refusal, sharesTimers, TimeoutError } from '../core.js'
import type { Parcel } from './handover.js'
import type { Call, Next, Outcome, ResponseOutcome, Runtime, Wrapper } from './types.js'

/**
 * How far (bytes) a caller's copy of a shared body may fall behind the fastest reader of it. Past
 * this, that caller's body errors (a RangeError) and its buffer is freed; the others read on.
 */
export const MAX_LAG_BYTES = 1024 * 1024

/** How long workerd keeps a request's `waitUntil` work past its answer, ms: a shared request it kept may be gone after. */
export const KEPT_AFTER_ANSWER = 30_000

/** A caller waiting for (then reading) a shared response. */
export interface Member {
  readonly call: Call
  /** A parcel only for a joined caller where I/O is per request (workerd). */
  readonly resolve: (outcome: Outcome | Parcel | null) => void
  readonly joined: boolean
  /** Follows the caller's signal (one per caller with a signal): its abort ends this caller only. */
  readonly own: AbortController | undefined
  unfollow: (() => void) | undefined
  /** What the caller's abort does now: leave the flight, then (once answered) end its body. */
  onAbort: (reason: unknown) => void
}

/** One shared request: its callers, until its outcome arrives. */
interface Flight {
  readonly id: string
  readonly flights: Flights
  /** Aborts the shared request; undefined when the first caller has no signal (it never leaves). */
  readonly controller: AbortController | undefined
  readonly shared: Call
  readonly members: Set<Member>
  /**
   * When the shared request must have ended (ms epoch): its total deadline (in workerd at most KEPT_AFTER_ANSWER) and
   * LOST_AFTER. Past it, the request was dropped with the incoming request that made it.
   */
  readonly until: number
}

/** A key's requests in flight, by identity (URL, header values, request settings). */
export type Flights = Map<string, Flight>

/**
 * The coalescing wrapper (outermost): a GET with no body, no Authorization/Cookie header and no
 * `cache: 'no-store' | 'reload'`, identical to one of its key still waiting for its response headers,
 * joins it instead of sending. The shared request has its own signal, aborted only when every caller
 * has gone; retries, hedges and the fallback run once, for all. Each caller gets its own Response.
 * Where I/O is per request (workerd), the stage comes once ./handover.ts has loaded too: when that chunk will not load,
 * ./lazy.ts leaves coalescing off as for its own chunk (calls go on without it; the console says so once per instance).
 */
export function coalesceStage(enabled: boolean, runtime: Runtime): Wrapper<Flights> | Promise<Wrapper<Flights>> | undefined {
  if (!enabled) return undefined
  const totals = runtime.totals

  function lead(call: Call, next: Next, flights: Flights, id: string): Promise<Outcome> {
    // A first caller without a signal never leaves: its own call can be the shared one. Else the
    // shared request gets a signal of its own (the caller's, in init or the Request, must not reach it).
    const controller = call.signal === undefined ? undefined : new AbortController()
    const shared: Call = controller === undefined ? call : { ...call, signal: controller.signal, init: { ...call.init, signal: controller.signal } }
    // In workerd the flight outlives its first caller's request by that one's waitUntil only: at most 30 s past its answer, which came after `at`.
    const lasts = Math.min(call.timeout.total || Infinity, ioPerRequest() ? KEPT_AFTER_ANSWER : Infinity)
    const flight: Flight = { id, flights, controller, shared, members: new Set(), until: call.at + lasts + LOST_AFTER }
    flights.set(id, flight)
    const first = enter(flight, call, false) as Promise<Outcome>
    const landed = next(shared).then(
      (outcome) => land(flight, outcome),
      (error: unknown) => land(flight, refusal('request', error)),
    )
    // workerd drops what a request left running once it answered: its waitUntil keeps the flight until it lands.
    if (ioPerRequest()) call.waitUntil?.(landed)
    return first
  }

  function join(call: Call, flight: Flight, next: Next): Promise<Outcome> {
    totals.coalesced++
    // A parcel is opened here, in the joined caller's own request; null: the shared request was lost, send its own.
    return enter(flight, call, true).then((got) => (got === null ? next(call) : 'copy' in got ? handover().then((m) => m.unpack(got, call, next)) : got))
  }

  const stage: Wrapper<Flights> = {
    name: 'coalesce',
    forKey: (): Flights => new Map(),
    busy: (flights) => flights.size > 0,
    run(call, next, flights) {
      const id = identity(call)
      if (id === undefined) return next(call)
      // Only when the stage's chunk arrived late: the caller may have gone meanwhile.
      if (call.signal?.aborted) return Promise.resolve(aborted(call.signal.reason))
      const flight = flights.get(id)
      if (flight !== undefined && runtime.now() <= flight.until) return join(call, flight, next)
      // In workerd, a shared request nothing keeps (no waitUntil) would be dropped with its request, its joiners left waiting.
      return ioPerRequest() && call.waitUntil === undefined ? next(call) : lead(call, next, flights, id)
    },
  }
  // Joined there, a caller could only be answered through that chunk: without it, one waited out the shared request's 31 s.
  return ioPerRequest() ? handover().then(() => stage) : stage
}

function enter(flight: Flight, call: Call, joined: boolean): Promise<Outcome | Parcel | null> {
  return new Promise<Outcome | Parcel | null>((done) => {
    const signal = call.signal
    const own = signal === undefined ? undefined : new AbortController()
    const guard = joined ? guardJoiner(flight, call, () => member) : undefined
    const resolve = guard === undefined ? done : (outcome: Outcome | Parcel | null) => (clearTimeout(guard), done(outcome))
    const member: Member = { call, resolve, joined, own, unfollow: undefined, onAbort: (reason) => leave(flight, member, reason) }
    if (signal !== undefined) {
      own!.signal.addEventListener('abort', () => member.onAbort(own!.signal.reason), { once: true })
      member.unfollow = follow(signal, own!)
    }
    flight.members.add(member)
  })
}

/**
 * A joined caller waits on another call's request, nothing of its own. In workerd that request may be another
 * incoming request's, kept by its `waitUntil` for a time only (30 s past its answer), and a request waiting on nothing
 * of its own is cancelled as hung: there (and in Node, Deno, Bun) a joiner keeps a timer of its own, to the shared
 * request's `until`. Then it sends its own request, or, past its own total deadline, times out. Not where host timers
 * are dear (browsers).
 */
function guardJoiner(flight: Flight, call: Call, member: () => Member): ReturnType<typeof setTimeout> | undefined {
  const total = call.timeout.total
  const wait = flight.until - now()
  // Past what a timer can hold (Infinity included) a host fires it at once: no guard then.
  if (!(wait <= MAX_TIMER_MS) || sharesTimers()) return undefined
  return setTimeout(() => {
    // No total deadline (false): the joiner is never past it, and sends its own request.
    const error = new TimeoutError(total || flight.until - call.at, 'total')
    leave(flight, member(), error, total === false || now() < call.at + total ? null : refusal('deadline', error))
  }, wait)
}

/** A caller aborted before the headers: it alone rejects; the last one to go aborts the shared request. */
function leave(flight: Flight, member: Member, reason: unknown, outcome: Outcome | null = aborted(reason)): void {
  if (!flight.members.delete(member)) return
  member.unfollow?.()
  member.resolve(outcome)
  if (flight.members.size > 0) return
  forget(flight)
  flight.controller?.abort(reason)
}

function forget(flight: Flight): void {
  if (flight.flights.get(flight.id) === flight) flight.flights.delete(flight.id)
}

/** The shared outcome arrived: every caller still waiting gets it (a response: each its own copy, in workerd once handed over). */
function land(flight: Flight, outcome: Outcome): Promise<void> | undefined {
  forget(flight)
  const members = [...flight.members]
  flight.members.clear()
  if (members.length === 0) {
    discard(outcome)
    return
  }
  for (const member of members) member.call.attempts = flight.shared.attempts
  if (outcome.kind !== 'response') {
    for (const member of members) {
      member.unfollow?.()
      member.resolve(outcome)
    }
    return
  }
  const response = outcome.response
  try {
    // Its head first: a response no copy can be made of throws before its body is locked (then cancelled below).
    if (members.some((member) => member.joined) && ioPerRequest()) return handOff(flight, outcome, headOf(response), members)
    const copies = members.length > 1 ? copiesOf(headOf(response), teeOf(response), members) : undefined
    members.forEach((member, i) => {
      const copy = copies === undefined ? alone(flight, member, response) : copies[i]!
      member.resolve(member.joined || copies !== undefined ? { ...outcome, response: copy, coalesced: member.joined } : outcome)
    })
  } catch (error) {
    // A response no copy can be made of (a transport's own Response-like): every caller is answered, none waits for good.
    discard(outcome)
    for (const member of members) member.resolve(refusal('request', error))
  }
}

/**
 * Whether a request's I/O objects are its own (workerd): a body that another incoming request's fetch opened cannot
 * be read from this one ("Cannot perform I/O on behalf of a different request"), and a Response cannot cross requests.
 * There, joined callers are answered by ./handover.ts, a chunk of its own that loads nowhere else.
 */
function ioPerRequest(): boolean {
  return typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers'
}

let loading: Promise<typeof import('./handover.js')> | undefined
const handover = () => (loading ??= import('./handover.js'))

/**
 * There, the first caller (if still here) reads its copy as it arrives through a branch of a tee, and another branch is
 * read for the joined callers, up to half MAX_LAG_BYTES (so that read never leaves the first caller's copy too far
 * behind): the bytes are whole when the first caller's body ends, so before its request can; its `waitUntil` (though it
 * left) keeps its request until they are read. A larger body is not copied: the joined callers send their own requests.
 */
function handOff(flight: Flight, outcome: ResponseOutcome, head: Head, members: readonly Member[]): Promise<void> {
  const leader = members.find((member) => !member.joined)
  const response = outcome.response
  const tee = leader === undefined ? undefined : teeOf(response)
  if (leader !== undefined) leader.resolve({ ...outcome, response: copiesOf(head, tee, [leader])[0]! })
  const body = tee === undefined ? response.body : tee.branch().stream
  return handover().then((m) => m.handOver(outcome, (stream) => copyOf(stream, head), body, members, MAX_LAG_BYTES / 2, flight.shared.waitUntil))
}

/** The only caller left takes the response itself: its abort aborts the shared request, so its body. */
function alone(flight: Flight, member: Member, response: Response): Response {
  if (member.own !== undefined) {
    member.onAbort = (reason) => flight.controller?.abort(reason)
    keepWith(response, member.own)
  }
  return response
}

const teeOf = (response: Response) => (response.body === null ? undefined : new BodyTee(response.body))

/** A Response per caller over one body: a tee whose branches each follow their caller's signal. */
function copiesOf(head: Head, tee: BodyTee | undefined, members: readonly Member[]): Response[] {
  return members.map((member) => {
    const branch = tee?.branch()
    const copy = copyOf(branch?.stream ?? null, head)
    if (member.own !== undefined) {
      member.onAbort = (reason) => branch?.cut(reason)
      keepWith(copy, member.own)
    }
    return copy
  })
}

/** What a caller's copy of a shared response is made of (in workerd carried across requests to a joined caller). */
type Head = Pick<Response, 'status' | 'statusText' | 'ok' | 'url' | 'redirected' | 'type' | 'headers'>

/**
 * The shared response's head, its headers copied once: a copy crosses workerd's requests, and there keeps each value
 * as it is. A Response-like whose headers cannot be copied throws here, before its body is locked.
 */
function headOf(response: Response): Head {
  const headers = new Headers(response.headers)
  sameValues(headers, response.headers)
  const { status, statusText, ok, url, redirected, type } = response
  return { status, statusText, ok, url, redirected, type, headers }
}

/** A Response of `body` whose head reads as `head`, as fetch gave it. */
function copyOf(body: ReadableStream<Uint8Array> | null, head: Head): Response {
  let copy: Response
  try {
    copy = new Response(body, { status: head.status, statusText: head.statusText, headers: head.headers })
  } catch {
    // fetch takes what the constructor refuses (a status past 599, a reason phrase decoded as UTF-8): kept as fetch gave it.
    copy = new Response(body, { headers: head.headers })
    for (const name of ['status', 'statusText', 'ok'] as const) Object.defineProperty(copy, name, { value: head[name] })
  }
  sameValues(copy.headers, head.headers)
  // Constructed, it has no URL and is 'default'; fetch's is 'basic' (or 'cors', 'opaque' in a browser).
  for (const name of ['url', 'redirected', 'type'] as const) if (copy[name] !== head[name]) Object.defineProperty(copy, name, { value: head[name] })
  return copy
}

/**
 * Makes each of `copy`'s values read as `source`'s. Headers (but workerd's, copying a Headers) trims a value's edges as
 * it is set, so where fetch combined repeated fields, empty ones first or last ('x' and '' read 'x, '), a copy read
 * 'x,': those fields are set again, the empty ones apart. A field's own edge whitespace (Node's fetch keeps 'y \t ')
 * no Headers can be set to.
 */
function sameValues(copy: Headers, source: Headers): void {
  for (const [name] of source) {
    // Set-Cookie fields are never combined: each is a value of its own, copied already.
    if (name === 'set-cookie') continue
    // As get() reads it: Deno's iteration drops a leading empty field (get ', z', iterated 'z'); with the fields apart, so does the copy's.
    const value = source.get(name)!
    if (copy.get(name) === value) continue
    let [start, end] = [0, value.length]
    while (value.endsWith(', ', end)) end -= 2
    while (start < end && value.startsWith(', ', start)) start += 2
    copy.delete(name)
    for (let at = 0; at < start; at += 2) copy.append(name, '')
    copy.append(name, value.slice(start, end))
    for (; end < value.length; end += 2) copy.append(name, '')
  }
}

type Branch = ReadableStreamDefaultController<Uint8Array> | ReadableByteStreamController

/**
 * A stream pulled only when its reader asks (desiredSize is then minus the bytes it has not read yet): a byte stream, as
 * fetch's bodies are (a BYOB reader works on it), where there are any (Safari has them since 26.4, its bodies since too).
 */
function pulledStream(source: UnderlyingDefaultSource<Uint8Array>): ReadableStream<Uint8Array> {
  if (typeof ReadableByteStreamController === 'undefined') return new ReadableStream(source, { highWaterMark: 0, size: (chunk) => chunk.byteLength })
  return new ReadableStream({ ...source, type: 'bytes' } as unknown as UnderlyingByteSource)
}

/** Ends a branch; a BYOB read waiting on it is answered (a byte stream leaves it waiting until told). */
function closeBranch(branch: Branch): void {
  branch.close()
  ;(branch as ReadableByteStreamController).byobRequest?.respond(0)
}

/**
 * Reads one body for several readers, as fast as the fastest asks. A reader that falls more than
 * MAX_LAG_BYTES behind is errored and dropped (a never-read body must not hold the stream's bytes
 * forever nor stall the others); when every reader has gone, the body is cancelled.
 */
export class BodyTee {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>
  private readonly branches = new Set<Branch>()
  private reading: Promise<void> | undefined

  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.getReader()
  }

  branch(): { stream: ReadableStream<Uint8Array>; cut: (reason: unknown) => void } {
    let controller!: Branch
    const stream = pulledStream({
      start: (c) => void this.branches.add((controller = c)),
      pull: () => this.pump(),
      cancel: () => this.drop(controller),
    })
    return { stream, cut: (reason) => this.cut(controller, reason) }
  }

  private cut(branch: Branch, reason: unknown): void {
    if (!this.branches.has(branch)) return
    branch.error(reason)
    this.drop(branch)
  }

  private drop(branch: Branch): void {
    if (this.branches.delete(branch) && this.branches.size === 0) this.reader.cancel().catch(() => {})
  }

  private pump(): Promise<void> {
    return (this.reading ??= this.reader.read().then(
      (result) => {
        this.reading = undefined
        if (result.done) {
          for (const branch of this.branches) closeBranch(branch)
          this.branches.clear()
        } else return this.deliver(result.value)
      },
      (error: unknown) => {
        this.reading = undefined
        for (const branch of this.branches) branch.error(error)
        this.branches.clear()
      },
    ))
  }

  private deliver(chunk: Uint8Array): Promise<void> | undefined {
    // A byte stream takes no empty chunk, and the readers that asked wait on this pull: the next one is read for them.
    if (chunk.byteLength === 0) return this.pump()
    for (const branch of this.branches) {
      // Each reader owns its bytes (a byte stream takes the buffer it is given): one that writes into a chunk cannot touch another's.
      branch.enqueue(chunk.slice())
      if (branch.desiredSize! < -MAX_LAG_BYTES) {
        this.cut(branch, new RangeError(`this caller's copy of a coalesced response body fell more than ${MAX_LAG_BYTES} bytes behind the fastest reader; read it sooner or pass resilience: { coalesce: false }`))
      }
    }
  }
}

/** The request settings, besides URL and headers, that make two GETs different requests (absent: fetch's default). */
const SETTINGS = [
  // In a browser, 'same-origin' refuses another origin's answer that 'cors' may read.
  ['mode', 'cors'],
  ['credentials', 'same-origin'],
  ['integrity', ''],
  ['referrer', 'about:client'],
  ['referrerPolicy', ''],
  ['cache', 'default'],
] as const

/**
 * What makes two calls of one key the same request, or undefined when this call never coalesces:
 * not a GET, a body, Authorization or Cookie, cache 'no-store' or 'reload', mode 'no-cors' or a redirect
 * mode but 'follow' (a browser's opaque or opaque-redirect response, status 0, cannot be copied), or `resilience.coalesce: false`. Per-call options that change the
 * outcome (timeout, retry, fallback, hedge) are part of it, and so is the priority: the shared call
 * queues and is shed with its leader's, so a high caller joining a low one would be evicted as low.
 */
export function identity(call: Call): string | undefined {
  const options = call.options
  if (call.method !== 'GET' || options?.coalesce === false) return undefined
  const init = call.init
  const request = isRequest(call.input) ? call.input : undefined
  if ((init?.body !== undefined && init.body !== null) || (request !== undefined && request.body !== null)) return undefined
  const cache = init?.cache ?? request?.cache
  if (cache === 'no-store' || cache === 'reload' || (init?.mode ?? request?.mode) === 'no-cors' || (init?.redirect ?? request?.redirect ?? 'follow') !== 'follow' || hasOwnOptions(init)) return undefined
  const headers = headerLines(init?.headers ?? request?.headers)
  if (headers === undefined) return undefined
  // As JSON: a URL, referrer or integrity is any string the caller gave, and one with a line break must not read as another request's headers.
  const settings = SETTINGS.map(([name, fallback]) => init?.[name] ?? request?.[name] ?? fallback)
  return JSON.stringify([call.priority, call.url, headers, settings, options?.timeout, options?.retry, options?.fallback, options?.hedge])
}

/**
 * Whether init carries a runtime's own fetch options (Node's dispatcher, Deno's client, Bun's proxy or tls): what a
 * Request does not keep. They can route the request elsewhere or present another client certificate, so a call with
 * them never shares another's request. `priority` is part of the identity already.
 */
function hasOwnOptions(init: RequestInit | undefined): boolean {
  for (const name in init) if (!(name in Request.prototype) && !/^(priority|window|resilience)$/.test(name)) return true
  return false
}

/** The header values, lower-cased and sorted (as Headers iterates them); undefined for credentials, and for headers fetch refuses (it rejects the call as fetch does). */
function headerLines(init: HeadersInit | undefined): string | undefined {
  if (init === undefined || init === null) return ''
  let headers: Headers
  try {
    headers = init instanceof Headers ? init : new Headers(init)
  } catch {
    return undefined
  }
  let lines = ''
  for (const [name, value] of headers) {
    if (name === 'authorization' || name === 'cookie') return undefined
    lines += `${name}:${value}\n`
  }
  return lines
}
