import { describe, expect, inject, it } from 'vitest'
import { context, deferred, fakeUpstream, get, ORIGIN, proxy, snapshotOf, until } from './helpers.js'

describe('forwarding', () => {
  it('strips the prefix, appends the rest of the path and the query to the upstream', async () => {
    const upstream = fakeUpstream()
    const handler = proxy({ upstream: `${ORIGIN}/v1/`, fetch: upstream.fetch })
    const response = await handler(get('/api/users/7?fields=name&x=%2F'))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ ok: true })
    expect(upstream.seen.map((r) => r.url)).toEqual([`${ORIGIN}/v1/users/7?fields=name&x=%2F`])
  })

  it('maps /api and /api/ to the upstream root', async () => {
    const upstream = fakeUpstream()
    const handler = proxy({ fetch: upstream.fetch })
    await handler(get('/api'))
    await handler(get('/api/?q=1'))
    expect(upstream.seen.map((r) => r.url)).toEqual([`${ORIGIN}/`, `${ORIGIN}/?q=1`])
  })

  it('does not forward hop-by-hop headers, Host or X-Forwarded-Host; forwards the rest', async () => {
    const upstream = fakeUpstream()
    const handler = proxy({ fetch: upstream.fetch })
    await handler(
      get('/api/data', {
        headers: {
          host: 'evil.test',
          'x-forwarded-host': 'evil.test',
          connection: 'keep-alive, x-private-hop',
          'keep-alive': 'timeout=5',
          'x-private-hop': 'secret',
          te: 'trailers',
          trailer: 'x-t',
          upgrade: 'websocket',
          'proxy-authorization': 'Basic Zm9vOmJhcg==',
          accept: 'application/json',
          'x-request-id': 'abc',
        },
      }),
    )
    const sent = upstream.seen[0].headers
    for (const name of ['host', 'x-forwarded-host', 'connection', 'keep-alive', 'x-private-hop', 'te', 'trailer', 'upgrade', 'proxy-authorization']) {
      expect(sent.has(name), name).toBe(false)
    }
    expect(sent.get('accept')).toBe('application/json')
    expect(sent.get('x-request-id')).toBe('abc')
    expect(new URL(upstream.seen[0].url).host).toBe('upstream.test')
  })

  it('does not forward the headers that make an upstream serve another resource or method than the URL names', async () => {
    const upstream = fakeUpstream()
    const handler = proxy({ fetch: upstream.fetch })
    const rewrites = ['x-original-url', 'x-rewrite-url', 'x-http-method-override', 'x-http-method', 'x-method-override', 'x-forwarded-prefix']
    await handler(get('/api/data', { headers: { ...Object.fromEntries(rewrites.map((name) => [name, name.includes('method') ? 'DELETE' : '/admin'])), 'x-request-id': 'abc' } }))
    const sent = upstream.seen[0].headers
    for (const name of rewrites) expect(sent.has(name), name).toBe(false)
    expect(sent.get('x-request-id')).toBe('abc')
  })

  it('a client cannot poison the copy everyone is served through an upstream that honours X-Original-URL', async () => {
    // As IIS URL Rewrite, or Symfony and Laravel behind a trusted proxy, do; the copy is stored under the URL alone.
    let down = false
    const upstream = fakeUpstream((request) => {
      if (down) return new Response('down', { status: 502 })
      const path = request.headers.get('x-original-url') ?? new URL(request.url).pathname
      return Response.json({ page: path === '/admin/config' ? 'internal admin config' : 'public home' })
    })
    const handler = proxy({ fetch: upstream.fetch })
    const ctx = context()
    await (await handler(get('/api/home', { headers: { 'x-original-url': '/admin/config' } }), undefined, ctx)).text()
    await ctx.settle()
    down = true
    const served = await handler(get('/api/home'), undefined, ctx)
    expect(served.headers.get('x-resilient-source')).toBe('fallback')
    expect(await served.json()).toEqual({ page: 'public home' })
  })

  it('a client cannot make the copy everyone is served link to its host through Forwarded, X-Forwarded-Host in its standard form', async () => {
    // As Spring's ForwardedHeaderFilter or Symfony behind a trusted proxy do: absolute links are built from host=.
    let down = false
    const upstream = fakeUpstream((request) => {
      if (down) return new Response('down', { status: 502 })
      const host = /host="?([^";,]+)/i.exec(request.headers.get('forwarded') ?? '')?.[1] ?? request.headers.get('x-forwarded-host') ?? new URL(request.url).host
      return Response.json({ next: `https://${host}/page/2` })
    })
    const handler = proxy({ fetch: upstream.fetch })
    const ctx = context()
    await (await handler(get('/api/page/1', { headers: { forwarded: 'for=192.0.2.1;host=evil.test;proto=https' } }), undefined, ctx)).text()
    await ctx.settle()
    down = true
    const served = await handler(get('/api/page/1'), undefined, ctx)
    expect(served.headers.get('x-resilient-source')).toBe('fallback')
    expect(await served.json()).toEqual({ next: 'https://upstream.test/page/2' })
    expect(upstream.seen[0].headers.has('forwarded')).toBe(false)
  })

  it("a client's other claims of the scheme, host or port (X-Forwarded-Proto and kin) never reach the upstream nor the copy everyone is served", async () => {
    // As Rails, Django, Symfony or Express behind a trusted proxy do: absolute links are built from the claimed scheme and host.
    const claims = {
      'x-forwarded-proto': 'http',
      'x-forwarded-scheme': 'http',
      'x-forwarded-ssl': 'off',
      'front-end-https': 'off',
      'x-url-scheme': 'http',
      'x-forwarded-port': '8080',
      'x-forwarded-server': 'evil.test',
      'x-host': 'evil.test',
      'x-original-host': 'evil.test',
      // Cloudflare's own scheme claim, which origins behind it read.
      'cf-visitor': '{"scheme":"http"}',
    }
    let down = false
    const upstream = fakeUpstream((request) => {
      if (down) return new Response('down', { status: 502 })
      const h = request.headers
      const scheme = h.get('x-forwarded-proto') ?? h.get('x-forwarded-scheme') ?? h.get('x-url-scheme') ?? (JSON.parse(h.get('cf-visitor') ?? '{}') as { scheme?: string }).scheme ?? 'https'
      const host = h.get('x-host') ?? h.get('x-original-host') ?? h.get('x-forwarded-server') ?? new URL(request.url).host
      const port = h.get('x-forwarded-port') === null ? '' : `:${h.get('x-forwarded-port')}`
      return Response.json({ next: `${scheme}://${host}${port}/page/2` })
    })
    const handler = proxy({ fetch: upstream.fetch })
    const ctx = context()
    await (await handler(get('/api/page/1', { headers: { ...claims, 'x-forwarded-for': '192.0.2.1' } }), undefined, ctx)).text()
    await ctx.settle()
    down = true
    const served = await handler(get('/api/page/1'), undefined, ctx)
    expect(served.headers.get('x-resilient-source')).toBe('fallback')
    expect(await served.json()).toEqual({ next: 'https://upstream.test/page/2' })
    for (const name of Object.keys(claims)) expect(upstream.seen[0].headers.has(name), name).toBe(false)
    // Who the client is stays for the upstream (logs, rate limits): it builds no link.
    expect(upstream.seen[0].headers.get('x-forwarded-for')).toBe('192.0.2.1')
  })

  // What origins take from a front proxy about the client: its address (nginx's real_ip, Rails' Client-IP, request-ip's
  // list), its user (oauth2-proxy, Authelia, Azure App Service, ALB, IAP, Cloudflare Access), its certificate (RFC 9440,
  // nginx, Envoy, Traefik, Azure, ALB), its signature (RFC 9421, ActivityPub's authorized fetch).
  const CLIENT_CLAIMS: Record<string, string> = {
    'cf-connecting-ip': '10.0.0.5',
    'cf-connecting-ipv6': 'fd00::5',
    'cf-pseudo-ipv4': '10.0.0.5',
    'true-client-ip': '10.0.0.5',
    'x-real-ip': '10.0.0.5',
    'x-client-ip': '10.0.0.5',
    'client-ip': '10.0.0.5',
    'x-cluster-client-ip': '10.0.0.5',
    'fastly-client-ip': '10.0.0.5',
    'x-originating-ip': '10.0.0.5',
    'x-appengine-user-ip': '10.0.0.5',
    'x-forwarded': 'for=10.0.0.5',
    'forwarded-for': '10.0.0.5',
    'x-forwarded-user': 'admin',
    'x-forwarded-email': 'admin@example.com',
    'x-forwarded-preferred-username': 'admin',
    'x-forwarded-groups': 'admins',
    'remote-user': 'admin',
    'remote-email': 'admin@example.com',
    'remote-name': 'Admin',
    'remote-groups': 'admins',
    'x-remote-user': 'admin',
    'x-webauth-user': 'admin',
    'x-authenticated-user': 'admin',
    'x-ms-client-principal': 'eyJ1c2VyIjoiYWRtaW4ifQ==',
    'x-ms-client-principal-name': 'admin',
    'x-ms-client-principal-id': '1',
    'x-ms-client-principal-idp': 'aad',
    'x-amzn-oidc-identity': 'admin',
    'x-amzn-oidc-data': 'e30.e30.x',
    'x-goog-authenticated-user-email': 'accounts.google.com:admin@example.com',
    'x-goog-authenticated-user-id': 'accounts.google.com:1',
    'cf-access-authenticated-user-email': 'admin@example.com',
    'client-cert': ':MIIB:',
    'client-cert-chain': ':MIIB:',
    'x-client-cert': 'MIIB',
    'x-ssl-client-cert': 'MIIB',
    'x-arr-clientcert': 'MIIB',
    'x-forwarded-client-cert': 'Hash=1;Subject="CN=admin"',
    'x-forwarded-tls-client-cert': 'MIIB',
    'x-forwarded-tls-client-cert-info': 'Subject="CN=admin"',
    'ssl-client-verify': 'SUCCESS',
    'ssl-client-subject-dn': 'CN=admin',
    'x-ssl-client-verify': 'SUCCESS',
    'x-ssl-client-s-dn': 'CN=admin',
    'x-client-verify': 'SUCCESS',
    'x-client-dn': 'CN=admin',
    'x-amzn-mtls-clientcert': 'MIIB',
    'x-amzn-mtls-clientcert-subject': 'CN=admin',
    signature: 'sig1=:AAAA:',
    'signature-input': 'sig1=("@method" "@authority");keyid="admin"',
    'signature-agent': '"https://bot.example"',
  }

  it("a client's claims of its address, user, certificate or signature never reach the upstream; X-Forwarded-For goes on", async () => {
    const upstream = fakeUpstream()
    const handler = proxy({ fetch: upstream.fetch })
    expect((await handler(get('/api/data', { headers: { ...CLIENT_CLAIMS, 'x-forwarded-for': '192.0.2.1', 'x-request-id': 'abc' } }))).status).toBe(200)
    const sent = upstream.seen[0].headers
    for (const name of Object.keys(CLIENT_CLAIMS)) expect(sent.has(name), name).toBe(false)
    // A list each proxy appends to (Cloudflare the address it saw, last): the origin reads the hops it trusts.
    expect(sent.get('x-forwarded-for')).toBe('192.0.2.1')
    expect(sent.get('x-request-id')).toBe('abc')
  })

  it("a claim spelled with underscores (X_Forwarded_User), which CGI, PHP, WSGI and Rack read as the dashed one (HTTP_X_FORWARDED_USER), never reaches the upstream either", async () => {
    const upstream = fakeUpstream()
    const handler = proxy({ fetch: upstream.fetch })
    const dashed = [...Object.keys(CLIENT_CLAIMS), 'x-forwarded-host', 'x-forwarded-proto', 'x-original-url', 'x-http-method-override', 'x-forwarded-for'].filter((name) => name.includes('-'))
    const underscored = Object.fromEntries(dashed.map((name) => [name.replace(/-/g, '_'), 'admin']))
    expect((await handler(get('/api/data', { headers: { ...underscored, 'x-forwarded-for': '192.0.2.1', x_request_id: 'abc' } }))).status).toBe(200)
    const sent = upstream.seen[0].headers
    for (const name of Object.keys(underscored)) expect(sent.has(name), name).toBe(false)
    // X-Forwarded-For goes on, which each proxy appends to; its underscore spelling would overwrite it in HTTP_X_FORWARDED_FOR.
    expect(sent.get('x-forwarded-for')).toBe('192.0.2.1')
    // An underscore in a name the proxy does not drop in its dashed spelling goes on.
    expect(sent.get('x_request_id')).toBe('abc')
  })

  // A request with a header whose name says credential (x-webauth-user) is never stored at all (README, privacy).
  const STORED = Object.entries(CLIENT_CLAIMS).filter(([name]) => !/auth|token|key|session|secret|pass|cookie|jwt|[cx]srf/i.test(name))
  it.each(STORED)('a client cannot poison the copy everyone is served by claiming %s: %s, which the upstream trusts from a front proxy', async (name, value) => {
    // An upstream that answers an internal address, a user, a verified certificate or a signer with what is theirs alone.
    let down = false
    const upstream = fakeUpstream((request) => {
      if (down) return new Response('down', { status: 502 })
      return Response.json({ page: request.headers.has(name) ? `for ${request.headers.get(name)}` : 'public' })
    })
    const handler = proxy({ fetch: upstream.fetch })
    const ctx = context()
    await (await handler(get('/api/home', { headers: { [name]: value } }), undefined, ctx)).text()
    await ctx.settle()
    down = true
    const served = await handler(get('/api/home'), undefined, ctx)
    expect(served.headers.get('x-resilient-source')).toBe('fallback')
    expect(await served.json()).toEqual({ page: 'public' })
  })

  it('drops hop-by-hop headers from the upstream response', async () => {
    const upstream = fakeUpstream(() => new Response('hi', { headers: { 'keep-alive': 'timeout=5', connection: 'x-hop', 'x-hop': '1', 'x-kept': '2' } }))
    const response = await proxy({ fetch: upstream.fetch })(get('/api/data'))
    expect(response.headers.has('keep-alive')).toBe(false)
    expect(response.headers.has('x-hop')).toBe(false)
    expect(response.headers.get('x-kept')).toBe('2')
    expect(await response.text()).toBe('hi')
  })

  it('never follows an upstream redirect itself: the 3xx goes back to the client', async () => {
    const upstream = fakeUpstream(() => new Response(null, { status: 302, headers: { location: 'http://evil.test/' } }))
    const response = await proxy({ fetch: upstream.fetch })(get('/api/data'))
    expect(response.status).toBe(302)
    expect(upstream.seen).toHaveLength(1)
    expect(upstream.seen[0].redirect).toBe('manual')
  })

  it('answers 404 outside the routes without calling the upstream', async () => {
    const upstream = fakeUpstream()
    const response = await proxy({ fetch: upstream.fetch })(get('/apiary'))
    expect(response.status).toBe(404)
    expect(upstream.seen).toHaveLength(0)
  })

  it('answers /health', async () => {
    const response = await proxy({ fetch: fakeUpstream().fetch })(get('/health'))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', breakers: { [ORIGIN]: 'closed' }, fallback: 'memory' })
  })
})

describe('methods', () => {
  it('answers 405 with Allow for methods outside METHODS, without calling the upstream', async () => {
    const upstream = fakeUpstream()
    const handler = proxy({ fetch: upstream.fetch })
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const response = await handler(get('/api/data', { method, body: method === 'POST' ? 'x' : undefined }))
      expect(response.status, method).toBe(405)
      expect(response.headers.get('allow')).toBe('GET, HEAD')
    }
    expect((await handler(get('/api/data', { method: 'HEAD' }))).status).toBe(200)
    expect(upstream.seen.map((r) => r.method)).toEqual(['HEAD'])
  })

  it('forwards a configured method with its body', async () => {
    const upstream = fakeUpstream(async (request) => new Response(await request.text()))
    const handler = proxy({ fetch: upstream.fetch, methods: 'get, post' })
    const response = await handler(get('/api/items', { method: 'POST', body: 'payload' }))
    expect(response.status).toBe(200)
    expect(await response.text()).toBe('payload')
    expect(upstream.seen[0].method).toBe('POST')
  })
})

describe('failures', () => {
  it("a failing upstream's answer to a client's Expect: 100-continue is a failure, not its 100 Continue taken for the answer", async () => {
    // A real upstream (Node's server sends 100 Continue by itself), down for this path: workerd's fetch takes an
    // interim 100 for the final answer, which the breaker would count as a success and the client would get.
    const [A] = inject('sharedUpstreamUrls')
    await (await fetch(`${A}/__down?path=${encodeURIComponent('/expect/down')}`)).body?.cancel()
    const handler = proxy({ upstream: A })
    const response = await handler(get('/api/expect/down', { headers: { expect: '100-continue' } }))
    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({ error: 'upstream_error', key: A })
    expect((await snapshotOf(handler)).breakers).toMatchObject([{ key: A, calls: 1, failures: 1 }])
  })

  it('answers 503 upstream_error with Retry-After and no stack trace when the upstream fails and there is no copy', async () => {
    const upstream = fakeUpstream(() => {
      throw new TypeError('connection refused at secret-internal-host:1234')
    })
    const response = await proxy({ fetch: upstream.fetch })(get('/api/data'))
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('1')
    expect(await response.json()).toEqual({ error: 'upstream_error', key: ORIGIN })
  })

  it('turns a failure status into 503 upstream_error, and passes other statuses through', async () => {
    let status = 500
    const upstream = fakeUpstream(() => new Response('boom', { status }))
    const handler = proxy({ fetch: upstream.fetch })
    expect(await (await handler(get('/api/data'))).json()).toEqual({ error: 'upstream_error', key: ORIGIN })
    status = 404
    const response = await handler(get('/api/data'))
    expect(response.status).toBe(404)
    expect(await response.text()).toBe('boom')
  })

  it('answers 503 timeout when the upstream is slower than TIMEOUT_MS, and aborts it', async () => {
    const upstream = fakeUpstream((request) => new Promise((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason))))
    const response = await proxy({ fetch: upstream.fetch, timeout: 20 })(get('/api/data'))
    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({ error: 'timeout', key: ORIGIN })
    expect(upstream.seen[0].signal.aborted).toBe(true)
  })

  it('opens the breaker after FAILURE_THRESHOLD failures: 503 circuit_open, Retry-After until the probe, upstream not called', async () => {
    const upstream = fakeUpstream(() => new Response('down', { status: 503 }))
    const handler = proxy({ fetch: upstream.fetch, failureThreshold: 3, openDuration: 5_000 })
    for (let i = 0; i < 3; i++) expect((await handler(get('/api/data'))).status).toBe(503)
    const response = await handler(get('/api/data'))
    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({ error: 'circuit_open', key: ORIGIN })
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(4)
    expect(Number(response.headers.get('retry-after'))).toBeLessThanOrEqual(5)
    expect(upstream.seen).toHaveLength(3)
    expect((await snapshotOf(handler)).breakers).toMatchObject([{ key: ORIGIN, state: 'open' }])
  })

  it('serves the last known good copy on failure, with X-Resilient-Source: fallback and Age', async () => {
    let fail = false
    const upstream = fakeUpstream(() => (fail ? new Response('down', { status: 503 }) : Response.json({ version: 1 })))
    const handler = proxy({ fetch: upstream.fetch })
    const ctx = context()
    expect(await (await handler(get('/api/data?x=1'), undefined, ctx)).json()).toEqual({ version: 1 })
    await ctx.settle()
    fail = true
    const response = await handler(get('/api/data?x=1'), undefined, ctx)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-resilient-source')).toBe('fallback')
    expect(response.headers.get('age')).toMatch(/^\d+$/)
    expect(await response.json()).toEqual({ version: 1 })
    // The copy is keyed by the public URL: another query has none.
    expect((await handler(get('/api/data?x=2'), undefined, ctx)).status).toBe(503)
    expect((await snapshotOf(handler)).totals.fallbacks).toBe(1)
  })
})

describe('bulkhead', () => {
  it('20 concurrent slow requests with MAX_CONCURRENT=5: never more than 5 upstream, 15 rejected at once with 503 bulkhead_full', async () => {
    const release = deferred<void>()
    const upstream = fakeUpstream(async () => {
      await release.promise
      return Response.json({ ok: true })
    })
    const handler = proxy({ fetch: upstream.fetch, maxConcurrent: 5 })
    const settled: Response[] = []
    const calls = Array.from({ length: 20 }, () => handler(get('/api/slow')).then((r) => (settled.push(r), r)))
    // The 15 over the limit are answered while the 5 admitted are still held by the upstream.
    await until(() => settled.length === 15)
    expect(upstream.active).toBe(5)
    for (const response of settled) {
      expect(response.status).toBe(503)
      expect(response.headers.get('retry-after')).toBe('1')
      expect(await response.json()).toEqual({ error: 'bulkhead_full', key: ORIGIN })
    }
    const during = await snapshotOf(handler)
    expect(during.bulkheads).toMatchObject([{ key: ORIGIN, active: 5, maxConcurrent: 5, maxQueue: 0 }])
    release.resolve()
    const all = await Promise.all(calls)
    expect(all.filter((r) => r.status === 200)).toHaveLength(5)
    expect(upstream.maxActive).toBe(5)
    expect(upstream.seen).toHaveLength(5)
    expect((await snapshotOf(handler)).bulkheads[0].active).toBe(0)
  })

  it('a full bulkhead serves the last known good copy where there is one', async () => {
    let gate: Promise<void> | undefined
    const upstream = fakeUpstream(async () => {
      await gate
      return Response.json({ fresh: true })
    })
    const handler = proxy({ fetch: upstream.fetch, maxConcurrent: 5 })
    const ctx = context()
    await handler(get('/api/slow'), undefined, ctx)
    await ctx.settle()
    const release = deferred<void>()
    gate = release.promise
    const settled: Response[] = []
    const calls = Array.from({ length: 20 }, () => handler(get('/api/slow'), undefined, ctx).then((r) => (settled.push(r), r)))
    await until(() => settled.length === 15)
    for (const response of settled) {
      expect(response.status).toBe(200)
      expect(response.headers.get('x-resilient-source')).toBe('fallback')
    }
    expect(upstream.active).toBe(5)
    release.resolve()
    await Promise.all(calls)
    expect(upstream.maxActive).toBe(5)
    expect(upstream.seen).toHaveLength(6)
  })
})

describe('observability', () => {
  it('/metrics is Prometheus text with breaker state, bulkhead usage and request counts', async () => {
    const handler = proxy({ fetch: fakeUpstream().fetch })
    await handler(get('/api/data'))
    const response = await handler(get('/metrics'))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const text = await response.text()
    expect(text).toContain(`resilient_fetch_breaker_state{key="${ORIGIN}",state="closed"} 1\n`)
    expect(text).toContain(`resilient_fetch_bulkhead_max_concurrent{key="${ORIGIN}"} 50\n`)
    expect(text).toContain('resilient_fetch_requests_total 1\n')
    for (const line of text.trimEnd().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_]\w*="[^"]*"(,[a-zA-Z_]\w*="[^"]*")*\})? -?[0-9.e+-]+)$/)
    }
  })

  it('/metrics.json is the snapshot', async () => {
    const handler = proxy({ fetch: fakeUpstream().fetch })
    await handler(get('/api/data'))
    const snapshot = await snapshotOf(handler)
    expect(snapshot.breakers).toMatchObject([{ key: ORIGIN, state: 'closed', calls: 1, failures: 0 }])
    expect(snapshot.totals).toMatchObject({ requests: 1, successes: 1 })
    expect(typeof snapshot.at).toBe('number')
  })

  it('METRICS_TOKEN guards /metrics, /metrics.json and /events, not the proxy', async () => {
    const handler = proxy({ fetch: fakeUpstream().fetch, metricsToken: 's3cret-token' })
    for (const path of ['/metrics', '/metrics.json', '/events']) {
      for (const authorization of [undefined, 'Bearer wrong', 'Bearer s3cret-tokeN', 'Bearer s3cret-token-longer', 'Basic s3cret-token', 's3cret-token']) {
        const response = await handler(get(path, { headers: authorization ? { authorization } : {} }))
        expect(response.status, `${path} ${authorization}`).toBe(401)
        expect(response.headers.get('www-authenticate')).toBe('Bearer')
      }
      const controller = new AbortController()
      const ok = await handler(get(path, { headers: { authorization: 'Bearer s3cret-token' }, signal: controller.signal }))
      expect(ok.status, path).toBe(200)
      await ok.body?.cancel()
    }
    expect((await handler(get('/api/data'))).status).toBe(200)
  })

  it('/events sends a snapshot at once and a statechange when a breaker opens', async () => {
    const upstream = fakeUpstream(() => new Response('down', { status: 500 }))
    const handler = proxy({ fetch: upstream.fetch, failureThreshold: 1 })
    const response = await handler(get('/events'))
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ''
    const next = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read()
        if (done) throw new Error(`stream ended before ${needle}`)
        text += value
      }
    }
    await next('event: snapshot\n')
    const before = Date.now()
    await handler(get('/api/data'))
    await next('event: statechange\n')
    await next('\n\n')
    const block = text.slice(text.indexOf('event: statechange\n'))
    const data = JSON.parse(/^data: (.*)$/m.exec(block)![1])
    expect(data).toEqual({ key: ORIGIN, from: 'closed', to: 'open', at: expect.any(Number) })
    expect(data.at).toBeGreaterThanOrEqual(before - 1_000)
    await reader.cancel()
  })
})
