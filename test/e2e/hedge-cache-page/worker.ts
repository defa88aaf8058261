/** A dedicated Worker: makes the hedged call it is sent and posts back what the caller saw. */
import { hedgedCall, type Ask } from './call.js'

const scope = globalThis as unknown as { onmessage: (event: MessageEvent<Ask>) => void; postMessage(value: unknown): void }
scope.onmessage = (event) => void hedgedCall(event.data).then((answer) => scope.postMessage(answer))
