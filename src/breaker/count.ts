import type { Window } from './window.js'

const FAILURE = 1
const SLOW = 2

/** The last `size` attempts, in a ring of flags. */
export class CountWindow implements Window {
  calls = 0
  failures = 0
  slowCalls = 0
  private readonly flags: Uint8Array
  private next = 0

  constructor(private readonly size: number) {
    this.flags = new Uint8Array(size)
  }

  record(failure: boolean, slow: boolean): void {
    if (this.calls === this.size) {
      const old = this.flags[this.next]!
      if (old & FAILURE) this.failures--
      if (old & SLOW) this.slowCalls--
    } else {
      this.calls++
    }
    this.flags[this.next] = (failure ? FAILURE : 0) | (slow ? SLOW : 0)
    if (failure) this.failures++
    if (slow) this.slowCalls++
    this.next = (this.next + 1) % this.size
  }

  refresh(): void {}

  reset(): void {
    this.calls = this.failures = this.slowCalls = this.next = 0
    this.flags.fill(0)
  }
}
