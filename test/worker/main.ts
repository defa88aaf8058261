// The test Worker's main module: Durable Objects must be exported from it to be bound in tests.
export { BreakerCoordinator } from '../../src/worker/index.js'

export default {
  fetch(): Response {
    return new Response('test worker', { status: 404 })
  },
}
