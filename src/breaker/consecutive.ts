import type { Window } from './window.js'

/** Counts the current run of failures (and of slow attempts); a good attempt ends the run. */
export class ConsecutiveWindow implements Window {
  failures = 0
  slowCalls = 0

  get calls(): number {
    return Math.max(this.failures, this.slowCalls)
  }

  record(failure: boolean, slow: boolean): void {
    this.failures = failure ? this.failures + 1 : 0
    this.slowCalls = slow ? this.slowCalls + 1 : 0
  }

  refresh(): void {}

  reset(): void {
    this.failures = 0
    this.slowCalls = 0
  }
}
