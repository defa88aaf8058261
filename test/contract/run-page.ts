// Headless Chromium: the contract suite on a page of one 127.0.0.1 origin, calling the upstream on another
// (CORS). The Node test calls window.runContract(env).
import { runContract } from './contract.js'

declare global {
  interface Window {
    runContract: typeof runContract
  }
}

window.runContract = runContract
document.documentElement.dataset.ready = 'true'
