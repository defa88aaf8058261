/**
 * The fleet's breaker (src/worker/fleet.ts) where test/coordinator.test.ts left it unpinned: a fresh and a restored
 * machine, configure(), the reporter of a report without one, successesToClose, and what outstanding() and alarmAt read.
 * Pinned by mutation testing.
 */
import { describe, expect, it } from 'vitest'
import { FleetBreaker, LEGAL_EDGES, MAX_PROBE_TTL, REPORT_GRACE, type FleetSnapshot } from '../src/worker/fleet.js'
import type { FleetOptions } from '../src/worker/protocol.js'

const OPTIONS: FleetOptions = { failureThreshold: 6, window: 10_000, openDuration: 1_000, probes: 1, successesToClose: 1, minReporters: 1 }

/** A breaker opened at 0 and half-open at 1 000. */
function halfOpen(options: Partial<FleetOptions> = {}): FleetBreaker {
  const b = new FleetBreaker({ ...OPTIONS, ...options }, 0)
  b.report(0, 6)
  b.alarm(1_000)
  expect(b.state).toBe('half-open')
  return b
}

describe('FleetBreaker: fresh and restored', () => {
  it('a fresh machine is idle, wakes no alarm, and its snapshot holds nothing', () => {
    const b = new FleetBreaker(OPTIONS, 5)
    expect([b.idle, b.alarmAt, b.revision]).toEqual([true, undefined, 0])
    expect(b.snapshot()).toEqual({ state: 'closed', changedAt: 5, openedAt: 0, openUntil: 0, reports: [], permits: [], nextPermit: 1, successes: 0, options: OPTIONS })
  })

  it('a snapshot keeps the permits out, and a snapshot without reports (an earlier version) restores an empty window', () => {
    const b = halfOpen()
    const { permit } = b.acquire(1_000, 100) as { permit: number }
    const snapshot = JSON.parse(JSON.stringify(b.snapshot())) as FleetSnapshot
    expect(snapshot.permits).toEqual([{ id: permit, expires: 1_000 + 100 + REPORT_GRACE }])
    expect(FleetBreaker.restore(snapshot).acquire(1_001, 100).granted).toBe(false)
    const { reports: _, ...earlier } = new FleetBreaker(OPTIONS, 0).snapshot()
    const restored = FleetBreaker.restore(earlier as FleetSnapshot)
    expect([restored.idle, restored.snapshot().reports]).toEqual([true, []])
  })

  it('takes exactly the four edges', () => {
    expect([...LEGAL_EDGES].sort()).toEqual(['closed>open', 'half-open>closed', 'half-open>open', 'open>half-open'])
  })
})

describe('FleetBreaker.configure', () => {
  it('the same settings change nothing, not even the revision', () => {
    const b = new FleetBreaker(OPTIONS, 0)
    b.configure({ ...OPTIONS })
    expect(b.revision).toBe(0)
  })

  it.each(Object.keys(OPTIONS) as (keyof FleetOptions)[])('a new %s is taken, and moves the revision on', (name) => {
    const b = new FleetBreaker(OPTIONS, 0)
    const next = { ...OPTIONS, [name]: OPTIONS[name] + 1 }
    b.configure(next)
    expect(b.options).toEqual(next)
    expect(b.revision).toBeGreaterThan(0)
  })

  it('a new window counts the failures in it again; another change leaves the window as it counted', () => {
    const quorum = { ...OPTIONS, minReporters: 2 }
    const b = new FleetBreaker(quorum, 0)
    b.report(0, 5, 'a')
    b.report(0, 5, 'a')
    // The window counted both reports; the journal keeps at most failureThreshold per reporter and tenth.
    expect(b.failures(0)).toBe(10)
    b.configure({ ...quorum, openDuration: 2_000 })
    expect(b.failures(0)).toBe(10)
    b.configure({ ...quorum, openDuration: 2_000, window: 1_000 })
    expect([b.failures(0), b.failures(1_000)]).toEqual([6, 0])
  })
})

describe('FleetBreaker: reports and probes', () => {
  it('a report without a reporter is the same reporter as an empty one', () => {
    const b = new FleetBreaker({ ...OPTIONS, minReporters: 2 }, 0)
    b.report(0, 3)
    b.report(0, 3, '')
    expect([b.reporters(0), b.state]).toEqual([1, 'closed'])
  })

  it('a permit granted and a change of settings move the revision on', () => {
    const b = halfOpen({ probes: 2 })
    const before = b.revision
    b.acquire(1_000, 100)
    expect(b.revision).toBeGreaterThan(before)
  })

  it('closes only after successesToClose successful probes', () => {
    const b = halfOpen({ probes: 2, successesToClose: 2 })
    const [one, two] = [b.acquire(1_000, 100), b.acquire(1_000, 100)] as { permit: number }[]
    b.endProbe(1_010, one!.permit, false)
    expect(b.state).toBe('half-open')
    b.endProbe(1_020, two!.permit, false)
    expect(b.state).toBe('closed')
  })

  it('outstanding() counts the permits not expired at t, an expired one not yet dropped included', () => {
    const b = halfOpen()
    b.acquire(1_000, MAX_PROBE_TTL * 2)
    const expires = 1_000 + MAX_PROBE_TTL + REPORT_GRACE
    expect([b.outstanding(expires - 1), b.outstanding(expires)]).toEqual([1, 0])
  })

  it('half-open with failures reported, it sets no alarm (the failures leave the window with the next message)', () => {
    const b = halfOpen()
    b.report(1_000, 2, 'a')
    expect(b.failures(1_000)).toBe(2)
    expect(b.alarmAt).toBeUndefined()
  })
})

describe('FleetBreaker: the journal of reports, and what a transition forgets', () => {
  it('merges a reporter\'s failures per tenth of the window, never past failureThreshold', () => {
    const b = new FleetBreaker({ ...OPTIONS, minReporters: 2 }, 0)
    b.report(0, 1, 'a')
    b.report(500, 2, 'a')
    b.report(1_500, 2, 'a')
    b.report(1_600, 9, 'a')
    expect(b.snapshot().reports).toEqual([
      [0, 'a', 3],
      [1_500, 'a', 6],
    ])
  })

  it('keeps the newest 256 reports', () => {
    const b = new FleetBreaker({ ...OPTIONS, failureThreshold: 10_000, minReporters: 10_000 }, 0)
    for (let i = 0; i <= 256; i++) b.report(0, 1, `r${i}`)
    const reporters = b.snapshot().reports.map((r) => r[1])
    expect([reporters.length, reporters[0], reporters.at(-1)]).toEqual([256, 'r1', 'r256'])
  })

  it('a report dated after now (the clock went back) is not in the window', () => {
    const b = new FleetBreaker({ ...OPTIONS, minReporters: 2 }, 0)
    b.report(10_000, 3, 'a')
    b.report(5_000, 3, 'b')
    expect(b.reporters(5_000)).toBe(1)
    expect(b.snapshot().reports).toEqual([[5_000, 'b', 3]])
  })

  it('an open counts no reports, and its window and journal start empty', () => {
    const b = new FleetBreaker(OPTIONS, 0)
    b.report(0, 6, 'a')
    expect(b.snapshot().reports).toEqual([])
    b.report(10, 6, 'a')
    expect([b.openUntil, b.snapshot().reports]).toEqual([1_000, []])
  })

  it('a close by a probe forgets the failures reported in half-open, and the permits', () => {
    const b = halfOpen({ probes: 2 })
    b.report(1_000, 2, 'a')
    const { permit } = b.acquire(1_000, 100) as { permit: number }
    b.acquire(1_000, 100)
    b.endProbe(1_010, permit, false)
    expect([b.state, b.idle, b.failures(1_010)]).toEqual(['closed', true, 0])
    expect(b.snapshot().permits).toEqual([])
  })

  it('the revision moves on when a tick drops an expired permit or a report that left the window, and only then', () => {
    const b = halfOpen()
    b.acquire(1_000, 100)
    const granted = b.revision
    b.view(1_000 + 100 + REPORT_GRACE)
    expect(b.revision).toBeGreaterThan(granted)
    const dropped = b.revision
    b.view(1_000 + 100 + REPORT_GRACE + 1)
    expect(b.revision).toBe(dropped)
    const closed = new FleetBreaker(OPTIONS, 0)
    closed.report(0, 1, 'a')
    const reported = closed.revision
    closed.view(10_000)
    expect(closed.revision).toBeGreaterThan(reported)
  })
})
