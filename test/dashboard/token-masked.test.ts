// @vitest-environment happy-dom
/**
 * The Worker view follows `/events?token=<METRICS_TOKEN>` (EventSource cannot send a header). The token must reach the
 * stream as typed, but the status line, which anyone looking at the screen (or a screenshot of it) reads, shows the
 * URL with the token's value masked: connecting, connected, refused, lost.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { WorkerView } from '../../demo/dashboard/worker-view'

const SECRET = 's3cret-metrics-token'

/** An EventSource that connects nowhere: the test fires its events. */
class FakeEventSource extends EventTarget {
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSED = 2
  static last: FakeEventSource | undefined
  readyState = FakeEventSource.CONNECTING
  constructor(readonly url: string | URL) {
    super()
    FakeEventSource.last = this
  }
  close(): void {
    this.readyState = FakeEventSource.CLOSED
  }
}

function mount(): { view: WorkerView; status: HTMLElement; input: HTMLInputElement } {
  document.body.innerHTML = `<section id="worker"><form><input data-control="events-url"><button type="button" data-action="disconnect"></button>
    <span data-role="status"></span></form><dl data-role="totals"></dl><div data-role="cards"></div><ol data-role="log"></ol></section>`
  const root = document.querySelector<HTMLElement>('#worker')!
  return { view: new WorkerView(root), status: root.querySelector('[data-role="status"]')!, input: root.querySelector('input')! }
}

describe('the Worker view\'s status line with a token in the events URL', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    vi.stubGlobal('EventSource', FakeEventSource)
  })
  afterEach(() => {
    vi.unstubAllGlobals()
    vi.useRealTimers()
    document.body.innerHTML = ''
  })

  test('the stream gets the token; connecting, connected and lost show it masked, the other parameters as they are', () => {
    const { view, status, input } = mount()
    input.value = `/events?view=all&token=${SECRET}`
    view.connect()
    const source = FakeEventSource.last!
    expect(String(source.url)).toContain(`token=${SECRET}`)
    expect(status.textContent).toMatch(/^connecting to .*\/events\?view=all&token=/)
    expect(status.textContent).not.toContain(SECRET)
    source.dispatchEvent(new Event('open'))
    expect(status.textContent).toMatch(/^connected to .*\/events\?view=all&token=/)
    expect(status.textContent).not.toContain(SECRET)
    source.dispatchEvent(new Event('error'))
    expect(status.textContent).toMatch(/^lost the connection to /)
    expect(status.textContent).not.toContain(SECRET)
    view.disconnect()
  })

  test('a refused stream (401) says so without the token, and a token spelt with an escape is masked too', async () => {
    const { view, status, input } = mount()
    vi.stubGlobal('fetch', vi.fn(async () => new Response(null, { status: 401 })))
    input.value = `/events?%74oken=${SECRET}`
    view.connect()
    const source = FakeEventSource.last!
    source.readyState = FakeEventSource.CLOSED
    source.dispatchEvent(new Event('error'))
    await vi.waitFor(() => expect(status.textContent).toContain('(401)'))
    expect(status.textContent).toContain("the token in the URL is not the proxy's METRICS_TOKEN")
    expect(status.textContent).not.toContain(SECRET)
  })

  test('an input that is no URL is shown with the token masked', () => {
    const { view, status, input } = mount()
    input.value = `http://[bad/events?token=${SECRET}`
    view.connect()
    expect(status.textContent).toMatch(/^not a URL: http:\/\/\[bad\/events\?token=/)
    expect(status.textContent).not.toContain(SECRET)
  })
})
