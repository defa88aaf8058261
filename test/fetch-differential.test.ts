import { createHash } from 'node:crypto'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index'
import type { ResilientFetchOptions } from '../src/types'

/**
 * Differential: against a real, healthy HTTP server on 127.0.0.1, a resilient fetch must be indistinguishable
 * from the platform's fetch. The same generated call goes through fetch, then through rf in each variant; the
 * outcome (the Response, or the error) and the requests the server saw must be the same.
 */

// DIFF_RUNS=1000 for a longer soak.
const RUNS = Number(process.env.DIFF_RUNS ?? 100)

/** What the server saw of one request. */
interface Seen {
  method: string
  url: string
  headers: string[]
  /** Hex SHA-256 and length of the body bytes (a multipart boundary normalized). */
  body: string
}

/** What the server answers. A redirect answers the first request; its target then answers with `final`. */
interface Plan {
  final: Answer
  redirect: { status: number; location: string } | undefined
}

interface Answer {
  status: number
  statusText: string | undefined
  headers: [string, string][]
  body: Bytes | undefined
  gzip: boolean
  contentLength: boolean
  /** Headers after 80 ms: a hedge (after 50 ms) goes out, two identical calls surely share one request. */
  slow: boolean
}

/** Body bytes, built from a seed (a generated 256 KiB array would make runs slow). */
interface Bytes {
  size: number
  seed: number
}

let server: Server
let origin: string
let plan: Plan
let seen: Seen[] = []
/** Each compared call's URLs start with /r<run>: a request still on its way when its run ended is never counted in another's. */
let run = 0

// Undici's multipart boundary is random: the same FormData must compare equal.
const BOUNDARY = /formdata-undici-\d+/g

function bytesOf({ size, seed }: Bytes): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size)
  let x = seed | 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

const digest = (bytes: Uint8Array) => `${bytes.byteLength}:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('latin1').replace(BOUNDARY, 'formdata-undici-B')
      const headers: string[] = []
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]!.replace(BOUNDARY, 'formdata-undici-B')}`)
      const [, of, path = req.url!] = /^\/r(\d+)(\/.*)?$/.exec(req.url!) ?? []
      if (of !== undefined && Number(of) !== run) return void res.writeHead(410).end()
      seen.push({ method: req.method!, url: req.url!, headers, body: digest(Buffer.from(body, 'latin1')) })
      const redirect = plan.redirect
      if (redirect !== undefined && !path.startsWith('/target')) {
        // Its UTF-8 bytes as they are, as servers send them.
        res.writeHead(redirect.status, { location: Buffer.from(`/r${run}${redirect.location}`).toString('latin1'), 'content-type': 'text/plain' }).end('moving on')
        return
      }
      const final = plan.final
      if (final.slow) setTimeout(() => respond(res, req.method!, final), 80)
      else respond(res, req.method!, final)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

function respond(res: ServerResponse, method: string, { status, statusText, headers, body, gzip, contentLength }: Answer): void {
  let payload = body === undefined ? undefined : bytesOf(body)
  const flat: string[] = headers.flat()
  if (payload !== undefined && gzip) {
    payload = gzipSync(payload)
    flat.push('Content-Encoding', 'gzip')
  }
  if (payload !== undefined && contentLength) flat.push('Content-Length', String(payload.byteLength))
  res.writeHead(status, statusText, flat)
  // No body for HEAD, nor for the statuses that have none: the keep-alive connection must stay in step.
  res.end(method === 'HEAD' || [204, 205, 304].includes(status) ? undefined : payload)
}

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

// ---- What a call is made of ----

type BodyKind = 'string' | 'uint8array' | 'arraybuffer' | 'dataview' | 'blob' | 'urlsearchparams' | 'formdata' | 'stream' | 'null'

interface BodySpec {
  kind: BodyKind
  bytes: Bytes
  text: string
  type: string | undefined
}

interface InitSpec {
  method: string | undefined
  headers: { form: 'pairs' | 'object' | 'Headers'; pairs: [string, string][] } | undefined
  body: BodySpec | undefined
  redirect: RequestRedirect | undefined
  cache: RequestCache | undefined
  mode: RequestMode | undefined
  credentials: RequestCredentials | undefined
  referrer: 'none' | 'empty' | 'page' | undefined
  referrerPolicy: ReferrerPolicy | undefined
  keepalive: boolean | undefined
  /** A signal that never aborts: it changes what a Request called with an init keeps, and how identical calls share. */
  signal: boolean | undefined
}

interface CallSpec {
  /** 'request': a Request built from init alone; 'request+init': a Request from `init`, called with `override`. */
  input: 'string' | 'URL' | 'request' | 'request+init'
  url: string
  init: InitSpec
  override: InitSpec
}

function bodyOf(spec: BodySpec): BodyInit | null {
  const bytes = bytesOf(spec.bytes)
  switch (spec.kind) {
    case 'string':
      return spec.text
    case 'uint8array':
      return bytes
    case 'arraybuffer':
      return bytes.buffer
    case 'dataview':
      return new DataView(bytes.buffer)
    case 'blob':
      return new Blob([bytes], spec.type === undefined ? {} : { type: spec.type })
    case 'urlsearchparams':
      return new URLSearchParams({ q: spec.text, n: String(spec.bytes.size), 'a b': '&=?' })
    case 'formdata': {
      const form = new FormData()
      form.append('text', spec.text)
      form.append('file', new Blob([bytes], spec.type === undefined ? {} : { type: spec.type }), 'f ü.bin')
      return form
    }
    case 'stream': {
      // In chunks of at most 16 KiB, as a producer would send them.
      let at = 0
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.byteLength) return controller.close()
          controller.enqueue(bytes.slice(at, (at += 16_384)))
        },
      })
    }
    case 'null':
      return null
  }
}

function initOf(spec: InitSpec): RequestInit {
  const init: RequestInit & { duplex?: 'half' } = {}
  if (spec.method !== undefined) init.method = spec.method
  if (spec.headers !== undefined) {
    const { form, pairs } = spec.headers
    init.headers = form === 'pairs' ? pairs.map(([n, v]) => [n, v]) : form === 'Headers' ? new Headers(pairs) : Object.fromEntries(pairs)
  }
  if (spec.body !== undefined) {
    init.body = bodyOf(spec.body)
    if (spec.body.kind === 'stream') init.duplex = 'half'
  }
  if (spec.redirect !== undefined) init.redirect = spec.redirect
  if (spec.cache !== undefined) init.cache = spec.cache
  if (spec.mode !== undefined) init.mode = spec.mode
  if (spec.credentials !== undefined) init.credentials = spec.credentials
  if (spec.referrer !== undefined) init.referrer = spec.referrer === 'none' ? 'about:client' : spec.referrer === 'empty' ? '' : `${origin}/page`
  if (spec.referrerPolicy !== undefined) init.referrerPolicy = spec.referrerPolicy
  if (spec.keepalive !== undefined) init.keepalive = spec.keepalive
  if (spec.signal) init.signal = new AbortController().signal
  return init
}

/** fetch's arguments for a call, built afresh each time (a body is read once). */
function argsOf(spec: CallSpec): [RequestInfo | URL, RequestInit | undefined] {
  const url = `${origin}/r${run}${spec.url}`
  switch (spec.input) {
    case 'string':
      return [url, initOf(spec.init)]
    case 'URL':
      return [new URL(url), initOf(spec.init)]
    case 'request':
      return [new Request(url, initOf(spec.init)), undefined]
    case 'request+init':
      return [new Request(url, initOf(spec.init)), initOf(spec.override)]
  }
}

// ---- What a call ends with ----

/** Connection-specific or time-specific response headers: never the same twice. */
const VOLATILE = new Set(['date', 'connection', 'keep-alive'])

type Ending =
  | { threw: 'synchronously' | 'rejected'; error: string; name: string; message: string; cause: string | undefined }
  | {
      status: number
      statusText: string
      ok: boolean
      type: ResponseType
      url: string
      redirected: boolean
      headers: [string, string][]
      setCookie: string[]
      body: string | null
    }

const className = (value: unknown) => (value instanceof Object ? value.constructor.name : typeof value)

async function endingOf(call: () => Promise<Response>): Promise<Ending> {
  let promise: Promise<Response>
  try {
    promise = call()
  } catch (error) {
    return thrown('synchronously', error)
  }
  let response: Response
  try {
    response = await promise
  } catch (error) {
    return thrown('rejected', error)
  }
  let body: string | null = null
  if (response.body !== null) {
    try {
      body = digest(new Uint8Array(await response.arrayBuffer()))
    } catch (error) {
      body = `body failed: ${className(error)} ${(error as Error).message}`
    }
  }
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    type: response.type,
    url: response.url,
    redirected: response.redirected,
    headers: [...response.headers].filter(([name]) => !VOLATILE.has(name)),
    setCookie: response.headers.getSetCookie(),
    body,
  }
}

function thrown(how: 'synchronously' | 'rejected', error: unknown): Ending {
  const e = error as Error
  const cause = e?.cause as Error | undefined
  return { threw: how, error: className(error), name: e?.name, message: e?.message, cause: cause === undefined ? undefined : `${className(cause)}: ${cause?.message}` }
}

/**
 * What rf must end with where fetch ended with `theirs`. The one documented difference: README "Redirects",
 * `redirect: 'error'` rejects on a redirect with a TypeError of its own message, as the call went as 'manual'.
 */
function expected(theirs: Ending): Ending {
  if (!('threw' in theirs) || theirs.cause !== 'Error: unexpected redirect') return theirs
  return { ...theirs, message: expect.stringMatching(/^redirect: 'error' refused a redirect from /) as unknown as string, cause: undefined }
}

// ---- The variants of rf, each a drop-in ----

interface Variant {
  name: string
  options: ResilientFetchOptions
  /** Identical calls made at once: coalescing shares one request between them. */
  concurrent: number
}

const VARIANTS: Variant[] = [
  { name: 'defaults', options: {}, concurrent: 1 },
  { name: 'fallback memory', options: { fallback: { store: 'memory' } }, concurrent: 1 },
  { name: 'coalesce', options: { coalesce: true }, concurrent: 2 },
  { name: 'hedge 50 ms', options: { hedge: { delay: 50 } }, concurrent: 1 },
]

interface Observed {
  endings: Ending[]
  seen: Seen[]
}

async function observe<S>(spec: S, send: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>, concurrent = 1, args: (spec: S) => [RequestInfo | URL, RequestInit | undefined] = argsOf as never): Promise<Observed> {
  seen = []
  const endings = await Promise.all(Array.from({ length: concurrent }, () => endingOf(() => send(...args(spec)))))
  const observed = { endings, seen }
  seen = []
  return observed
}

/**
 * The requests the server saw are fetch's: the same list for one call. Where rf may send a request more than once,
 * each request rf sent is one fetch sent, and each fetch sent, rf sent: a hedge after 50 ms (README "Hedged
 * requests"), identical calls at once that may or may not share one, and a network error, which fetch rejects with
 * and rf retries (README "Retries": network errors are retried too; two retries by default).
 */
function expectSameRequests(ours: Seen[], theirs: Seen[], variant: Variant, networkError: boolean) {
  const times = variant.concurrent * (variant.options.hedge ? 2 : 1) * (networkError ? 3 : 1)
  if (times === 1) return expect(ours, variant.name).toEqual(theirs)
  const key = (s: Seen) => JSON.stringify(s)
  expect(new Set(ours.map(key)), variant.name).toEqual(new Set(theirs.map(key)))
  expect(ours.length, variant.name).toBeGreaterThanOrEqual(theirs.length)
  expect(ours.length, variant.name).toBeLessThanOrEqual(theirs.length * times)
}

/** Whether fetch ended with a network error: its TypeError 'fetch failed' (undici's), the cause saying why. */
const isNetworkError = (ending: Ending) => 'threw' in ending && ending.message === 'fetch failed'

/** Compares one generated call through fetch and through each variant of rf. */
async function compare(spec: CallSpec, answer: Plan, variants = VARIANTS): Promise<void> {
  plan = answer
  run++
  const theirs = await observe(spec, fetch)
  const ending = theirs.endings[0]!
  for (const variant of variants) {
    const rf = createResilientFetch(variant.options)
    const ours = await observe(spec, rf, variant.concurrent)
    for (const each of ours.endings) expect(each, variant.name).toEqual(expected(ending))
    expectSameRequests(ours.seen, theirs.seen, variant, isNetworkError(ending))
  }
}

// ---- Generators ----

const ODD = [...'aZ09-._~!$&\'()*+,;=:@/ %%41"<>`{}|\\^[]éü€😀\t?']
const oddText = (maxLength: number) => fc.string({ unit: fc.constantFrom(...ODD), maxLength })

const url = fc
  .record({
    path: oddText(12),
    query: fc.option(oddText(16), { nil: undefined }),
    fragment: fc.option(oddText(8), { nil: undefined }),
  })
  .map(({ path, query, fragment }) => `/p/${path.replaceAll('?', '').replaceAll('#', '')}${query === undefined ? '' : `?${query.replaceAll('#', '')}`}${fragment === undefined ? '' : `#${fragment}`}`)

const bytes: fc.Arbitrary<Bytes> = fc.record({
  size: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0, 1, 17) }, { weight: 3, arbitrary: fc.nat(4_096) }, { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 256 * 1024 }) }),
  seed: fc.integer(),
})

const body: fc.Arbitrary<BodySpec> = fc.record({
  kind: fc.constantFrom<BodyKind>('string', 'uint8array', 'arraybuffer', 'dataview', 'blob', 'urlsearchparams', 'formdata', 'stream', 'null'),
  bytes,
  text: fc.string({ maxLength: 40, unit: 'binary' }),
  type: fc.option(fc.constantFrom('text/plain', 'application/json', 'application/x-custom;charset=latin1', ''), { nil: undefined }),
})

const HEADER_NAMES = ['X-Test', 'x-test', 'X-TEST', 'Accept', 'accept', 'Content-Type', 'content-type', 'User-Agent', 'Accept-Language', 'Authorization', 'Cookie', 'X-Api-Key', 'Cache-Control', 'Pragma', 'If-None-Match', 'Range', 'Accept-Encoding', 'Origin', 'Referer', 'X-Resilient-Source']
const headerValue = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'ab, =;/*"\'é'), maxLength: 12 }),
  fc.constantFrom('', ' padded ', 'application/json', 'text/*;q=0.5', 'bytes=0-10', 'gzip', 'no-cache', 'Bearer x'),
)
const headers = fc.record({
  form: fc.constantFrom('pairs' as const, 'object' as const, 'Headers' as const),
  pairs: fc.array(fc.tuple(fc.constantFrom(...HEADER_NAMES), headerValue), { maxLength: 5 }),
})

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'get', 'post', 'patch', 'delete', 'PROPFIND', 'X-Custom', 'purge']
const bodiless = (method: string | undefined) => method === undefined || /^(get|head)$/i.test(method)

const init = (withBody: boolean): fc.Arbitrary<InitSpec> =>
  fc
    .record({
      method: fc.option(fc.constantFrom(...METHODS), { nil: undefined }),
      headers: fc.option(headers, { nil: undefined }),
      body: withBody ? fc.option(body, { nil: undefined, freq: 3 }) : fc.constant(undefined),
      redirect: fc.option(fc.constantFrom<RequestRedirect>('follow', 'manual', 'error'), { nil: undefined }),
      cache: fc.option(fc.constantFrom<RequestCache>('default', 'no-store', 'reload', 'no-cache', 'force-cache'), { nil: undefined, freq: 4 }),
      mode: fc.option(fc.constantFrom<RequestMode>('cors', 'same-origin', 'no-cors'), { nil: undefined, freq: 6 }),
      credentials: fc.option(fc.constantFrom<RequestCredentials>('omit', 'same-origin', 'include'), { nil: undefined, freq: 6 }),
      referrer: fc.option(fc.constantFrom('none' as const, 'empty' as const, 'page' as const), { nil: undefined, freq: 2 }),
      referrerPolicy: fc.option(fc.constantFrom<ReferrerPolicy>('', 'no-referrer', 'unsafe-url', 'origin', 'same-origin'), { nil: undefined, freq: 2 }),
      keepalive: fc.option(fc.boolean(), { nil: undefined, freq: 8 }),
      signal: fc.option(fc.constant(true), { nil: undefined, freq: 3 }),
    })
    // A body on a GET or HEAD is the error cases' business (below); here the call is one fetch sends.
    .map((spec) => (withBody && bodiless(spec.method) ? { ...spec, body: undefined } : spec))

const call: fc.Arbitrary<CallSpec> = fc
  .record({
    // A Request called with an init of its own is where fetch's rules are subtlest (what the init resets): twice as often.
    input: fc.constantFrom('string' as const, 'URL' as const, 'request' as const, 'request+init' as const, 'request+init' as const),
    url,
    init: init(true),
    // An override without a body: the Request's body goes, or the override's method refuses it (fetch's TypeError, compared too).
    override: init(false),
  })

const STATUSES = [200, 200, 200, 201, 202, 203, 204, 205, 206, 226, 299, 300, 301, 302, 303, 304, 305, 306, 307, 308, 400, 401, 403, 404, 405, 409, 410, 418, 422, 451, 499]
const RESPONSE_HEADERS: [string, fc.Arbitrary<string>][] = [
  ['Content-Type', fc.constantFrom('text/plain', 'application/json; charset=utf-8', 'text/event-stream', 'application/x-ndjson', 'application/octet-stream')],
  ['Set-Cookie', fc.constantFrom('a=1', 'b=2; Path=/; HttpOnly', 'c=3; Expires=Wed, 21 Oct 2099 07:28:00 GMT')],
  ['X-Multi', fc.constantFrom('x', 'y, z', '')],
  ['x-multi', fc.constantFrom('lower')],
  ['Cache-Control', fc.constantFrom('no-store', 'private', 'max-age=60', 'stale-if-error=10')],
  ['Vary', fc.constantFrom('Accept', '*', 'X-Test, Accept-Language')],
  ['ETag', fc.constantFrom('"abc"', 'W/"x"')],
  ['Age', fc.constantFrom('0', '100')],
  ['X-Resilient-Source', fc.constantFrom('upstream')],
  ['Retry-After', fc.constantFrom('1', '120')],
  ['Location-Hint', fc.constantFrom('/elsewhere')],
  ['X-Odd', fc.string({ unit: fc.constantFrom(...'ab =;é\t'), maxLength: 8 }).map((s) => s.trim())],
]

const answer: fc.Arbitrary<Answer> = fc.record({
  status: fc.constantFrom(...STATUSES),
  statusText: fc.option(fc.constantFrom('Fine Thanks', 'OK', 'Nope', 'Ünicode'), { nil: undefined }),
  headers: fc.array(fc.oneof(...RESPONSE_HEADERS.map(([name, value]) => value.map((v): [string, string] => [name, v]))), { maxLength: 6 }),
  body: fc.option(bytes, { nil: undefined, freq: 5 }),
  gzip: fc.boolean(),
  contentLength: fc.boolean(),
  // One answer in eight: each adds 80 ms to every variant.
  slow: fc.nat(7).map((n) => n === 0),
})

const redirect = fc.option(
  fc.record({
    status: fc.constantFrom(301, 302, 303, 307, 308),
    location: fc.tuple(fc.constantFrom('/target', '/target/', '/target/a b'), fc.option(oddText(10), { nil: undefined })).map(([path, query]) => (query === undefined ? path : `${path}?${query.replaceAll('#', '')}`)),
  }),
  { nil: undefined, freq: 3 },
)

const plans: fc.Arbitrary<Plan> = fc.record({ final: answer, redirect })

// ---- Repeated response fields: fetch combines them, a copy for each coalesced caller must read the same ----

/**
 * Fields sent more than once, empty ones among them: fetch reads 'x' and '' as 'x, '. No value has edge whitespace of
 * its own (fetch in Node keeps it, no Headers can be set to it: test/coalesce.test.ts).
 */
const repeatedFields = fc.array(fc.tuple(fc.constantFrom('X-R', 'x-r', 'X-S'), fc.constantFrom('', '', 'v', 'a, b', ',', 'a ,', 'é')), { minLength: 1, maxLength: 6 })

const PLAIN_INIT: InitSpec = { method: undefined, headers: undefined, body: undefined, redirect: undefined, cache: undefined, mode: undefined, credentials: undefined, referrer: undefined, referrerPolicy: undefined, keepalive: undefined, signal: undefined }

/** Two identical GETs at once share one request (its headers come after 80 ms) and each reads the headers fetch reads. */
async function compareRepeated(fields: [string, string][]): Promise<void> {
  const spec: CallSpec = { input: 'string', url: '/fields', init: PLAIN_INIT, override: PLAIN_INIT }
  const final: Answer = { status: 200, statusText: undefined, headers: fields, body: { size: 5, seed: 1 }, gzip: false, contentLength: true, slow: true }
  await compare(spec, { final, redirect: undefined }, VARIANTS.filter((variant) => variant.options.coalesce))
}

// ---- Calls fetch refuses ----

/** A URL, `{o}` standing for the server's origin and `{p}` for its port. */
const BAD_URLS = [
  'http://[bad',
  '',
  'relative/path',
  '/absolute/path',
  'http://',
  'http://127.0.0.1:99999/',
  'ftp://127.0.0.1:{p}/',
  'ws://127.0.0.1:{p}/',
  'about:blank',
  'javascript:1',
  'blob:nope',
  'file:///nonexistent',
  'http://user:secret@127.0.0.1:{p}/creds',
  'data:text/plain;charset=utf-8,hi%20there',
  'data:,',
  // Valid, written oddly: the parser makes them {o}.
  'HTTP://127.0.0.1:{p}/Upper',
  'http://0x7f.1:{p}/hex',
  'http://127.1:{p}/short',
  ' {o}/spaces ',
  '{o}/new\nline\t',
  '{o}/ok',
]
const BAD_METHODS = ['CONNECT', 'TRACE', 'TRACK', 'connect', 'trace', 'bad method', '', 'GET\n', 'ÿ', 'G(ET', 'héad', 'GET', 'POST', 'get']
const BAD_HEADERS: [string, string][] = [
  ['bad header', 'x'],
  ['x:y', 'x'],
  ['', 'x'],
  ['é', 'x'],
  ['(x)', 'x'],
  ['x-ok', 'a\nb'],
  ['x-ok', 'a\u0000b'],
  ['x-ok', 'a\rb'],
  ['x-ok', '€'],
  ['Host', 'example.test'],
  ['Connection', 'close'],
  ['Transfer-Encoding', 'chunked'],
  ['Keep-Alive', 'timeout=5'],
  ['Upgrade', 'websocket'],
  ['Expect', '100-continue'],
  ['Content-Length', '3'],
  ['x-ok', 'fine'],
]
const BAD_INITS: Record<string, unknown>[] = [
  { mode: 'navigate' },
  { mode: 'bogus' },
  { cache: 'only-if-cached' },
  { cache: 'only-if-cached', mode: 'same-origin' },
  { credentials: 'bogus' },
  { redirect: 'bogus' },
  { referrer: 'http://[x' },
  { referrerPolicy: 'bogus' },
  { signal: 'not a signal' },
  { signal: {} },
  { window: {} },
  { window: null },
  { integrity: 'sha256-bogus' },
  { priority: 'bogus' },
  { keepalive: true, body: 'x'.repeat(70_000), method: 'POST' },
  { body: 'on a GET' },
  { body: 'on a HEAD', method: 'HEAD' },
  { body: new Blob(['stream']).stream(), method: 'POST' },
  { body: 'string', method: 'POST', duplex: 'full' },
  {},
]

/** One odd part per call (else the first masks the rest), in a call otherwise fine. */
interface RefusedSpec {
  /** 'request': a good Request, called with the odd init (the odd URL, when that is the odd part, as a string). */
  input: 'string' | 'URL' | 'request'
  fault: { url: string } | { method: string } | { header: [string, string] } | { init: number }
}

const refused: fc.Arbitrary<RefusedSpec> = fc.record({
  input: fc.constantFrom('string' as const, 'URL' as const, 'request' as const),
  fault: fc.oneof(
    fc.constantFrom(...BAD_URLS).map((url) => ({ url })),
    fc.constantFrom(...BAD_METHODS).map((method) => ({ method })),
    fc.constantFrom(...BAD_HEADERS).map((header) => ({ header })),
    { weight: 2, arbitrary: fc.nat(BAD_INITS.length - 1).map((init) => ({ init })) },
  ),
})

/** fetch's arguments for a call it may refuse; what cannot even be built (a URL object of a bad URL) throws here, for both alike. */
function refusedArgs({ input, fault }: RefusedSpec): [RequestInfo | URL, RequestInit | undefined] {
  const url = 'url' in fault ? fault.url.replaceAll('{o}', `${origin}/r${run}`).replaceAll('{p}', origin.split(':')[2]!) : `${origin}/r${run}/ok`
  // A stream is read once: a new one each time.
  const odd = 'init' in fault ? Object.entries(BAD_INITS[fault.init]!).map(([k, v]) => [k, v instanceof ReadableStream ? new Blob(['stream']).stream() : v]) : []
  const init = { ...Object.fromEntries(odd), ...('method' in fault && { method: fault.method }), ...('header' in fault && { headers: [fault.header] }) } as RequestInit
  if (input === 'URL') return [new URL(url), init]
  if (input === 'request' && !('url' in fault)) return [new Request(url), init]
  return [url, init]
}

/**
 * Where fetch rejects (or resolves) a call it refuses or reads oddly, rf ends the same way, and the server sees the
 * same requests (a network error after the request went out, an integrity mismatch, is retried).
 */
async function compareRefused(spec: RefusedSpec): Promise<void> {
  run++
  plan = { final: { status: 200, statusText: undefined, headers: [], body: { size: 5, seed: 1 }, gzip: false, contentLength: true, slow: false }, redirect: undefined }
  const theirs = await observe(spec, fetch, 1, refusedArgs)
  for (const variant of VARIANTS.slice(0, 2)) {
    const ours = await observe(spec, createResilientFetch(variant.options), 1, refusedArgs)
    expect(ours.endings[0], variant.name).toEqual(expected(theirs.endings[0]!))
    expectSameRequests(ours.seen, theirs.seen, variant, isNetworkError(theirs.endings[0]!))
  }
}

// ---- Failure statuses: retried, then the last one returned as fetch returns it ----

const RETRIED_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])
const RETRIED_STATUSES = new Set([408, 429, 500, 502, 503, 504])

/**
 * README "Retries": with the defaults, a failure status of `retry.statusCodes` to a method of `retry.methods` is sent
 * twice more, each time as it was, then the last Response is returned as fetch returns it; another failure status
 * (5xx but those, 600-999) is returned at once. A one-shot body (a stream in init) is never resent.
 */
async function compareFailure(spec: CallSpec, answer: Answer): Promise<void> {
  run++
  plan = { final: answer, redirect: undefined }
  const theirs = await observe(spec, fetch)
  const first = theirs.seen[0]
  const oneShot = (spec.input === 'string' || spec.input === 'URL') && spec.init.body?.kind === 'stream'
  const retried = first !== undefined && RETRIED_METHODS.has(first.method.toUpperCase()) && RETRIED_STATUSES.has(answer.status) && !oneShot
  for (const variant of VARIANTS.slice(0, 2)) {
    const ours = await observe(spec, createResilientFetch(variant.options))
    expect(ours.endings[0], variant.name).toEqual(expected(theirs.endings[0]!))
    expect(ours.seen, variant.name).toEqual(retried ? [first, first, first] : theirs.seen)
  }
}

const failure: fc.Arbitrary<Answer> = answer.chain((a) => fc.constantFrom(408, 429, 500, 502, 503, 504, 501, 505, 511, 599, 600, 999).map((status) => ({ ...a, status, slow: false, headers: a.headers.filter(([name]) => name !== 'Retry-After') })))

describe('rf is indistinguishable from fetch against a healthy server on 127.0.0.1', () => {
  it('same Response (or the same error) and the same requests on the wire, for any call fetch takes', async () => {
    await fc.assert(
      fc.asyncProperty(call, plans, (spec, answer) => compare(spec, answer)),
      // A run that hangs fails with its case rather than the whole test's timeout.
      { numRuns: RUNS, timeout: 15_000 },
    )
  }, 60_000 + RUNS * 1_000)

  it("coalesced callers each read the header values fetch reads: repeated fields, empty ones among them ('x, ')", async () => {
    await fc.assert(fc.asyncProperty(repeatedFields, compareRepeated), { numRuns: Math.ceil(RUNS / 4), timeout: 15_000 })
  }, 60_000 + RUNS * 1_000)

  it('a failure status: the same Response after the retries the README promises, each request the same as fetch sent', async () => {
    // Fewer runs: a retried call waits out the default backoff (up to 300 ms, then 600 ms).
    await fc.assert(fc.asyncProperty(call, failure, compareFailure), { numRuns: Math.ceil(RUNS / 3), timeout: 15_000 })
  }, 60_000 + RUNS * 1_000)

  it('the same error (class, name, message, cause) where fetch refuses a call: bad URLs, methods, headers, init members, a body on a GET', async () => {
    // Fewer runs: a network error (an unknown scheme, a header undici refuses) is retried after the default backoff.
    await fc.assert(fc.asyncProperty(refused, compareRefused), { numRuns: Math.ceil(RUNS * 0.6), timeout: 15_000 })
  }, 60_000 + RUNS * 1_000)
})
