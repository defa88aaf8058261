import { describe, expect, it } from 'vitest'
import { BulkheadRejectedError, CircuitOpenError, ResilienceError, ThrottledError, TimeoutError } from '../src/index.js'

describe('error names', () => {
  it('each class has its own stable name, on its prototype (not on every instance), not among its own keys', () => {
    for (const [E, name, error] of [
      [ResilienceError, 'ResilienceError', new ResilienceError('x')],
      [CircuitOpenError, 'CircuitOpenError', new CircuitOpenError('k', 5)],
      [BulkheadRejectedError, 'BulkheadRejectedError', new BulkheadRejectedError('k', 1, 2)],
      [TimeoutError, 'TimeoutError', new TimeoutError(10, 'attempt')],
      [ThrottledError, 'ThrottledError', new ThrottledError('k', 0.5)],
    ] as const) {
      expect(error.name).toBe(name)
      expect(Object.hasOwn(E.prototype, 'name')).toBe(true)
      expect(Object.hasOwn(error, 'name')).toBe(false)
      expect(Object.keys(error)).not.toContain('name')
      expect(JSON.stringify(error)).not.toContain(name)
      expect(String(error)).toBe(`${name}: ${error.message}`)
    }
  })

  it('a subclass of the user may name itself by assignment, as subclasses of Error do', () => {
    class Mine extends CircuitOpenError {
      constructor() {
        super('k', 1)
        this.name = 'Mine'
      }
    }
    expect(new Mine().name).toBe('Mine')
    expect(new CircuitOpenError('k', 1).name).toBe('CircuitOpenError')
  })
})
