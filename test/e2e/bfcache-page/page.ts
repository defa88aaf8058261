/**
 * An app page of the back/forward cache test, bundled by esbuild: an instance as an app would make it, on the
 * page's own origin, exposed on window.bfcache. Query: store=idb (an idbStore fallback, else the default 'auto'),
 * share=on (shareAcrossTabs). Every pageshow is recorded: `persisted` true is a restore from the cache, and a page
 * that was not restored starts over with a fresh record.
 */
import { createResilientFetch } from '../../../src/index.js'
import { idbStore } from '../../../src/store/idb.js'
import { shareAcrossTabs } from '../../../src/share/tabs.js'

const params = new URLSearchParams(location.search)
const rf = createResilientFetch({
  retry: false,
  timeout: false,
  breaker: { window: 'consecutive', failureThreshold: 3, openDuration: 60_000 },
  ...(params.get('store') === 'idb' ? { fallback: { store: idbStore({ dbName: 'rf-bfcache' }) } } : {}),
  ...(params.get('share') === 'on' ? { share: shareAcrossTabs() } : {}),
})

/** `persisted` of every pageshow since this document started. */
const shows: boolean[] = []
addEventListener('pageshow', (event) => shows.push(event.persisted))

const app = {
  shows,
  /** A call to the page's API: its status, or the error's name. */
  call: (path: string): Promise<number | string> =>
    rf(path).then(
      async (response) => (await response.text(), response.status),
      (error: Error) => error.name,
    ),
  clear: () => rf.clear(),
  /** What the origin holds: its Cache API caches and IndexedDB databases, by name. */
  storage: async () => ({ caches: await caches.keys(), databases: (await indexedDB.databases()).map((db) => db.name) }),
  state: (): string | undefined => rf.breaker(location.origin)?.state,
  /** Forces the page's breaker open with no end (an outage switch: kept by no storage, only by live tabs). */
  forceOpen: () => rf.breaker(location.origin)?.open(),
}

declare global {
  interface Window {
    bfcache: typeof app
  }
}
window.bfcache = app
document.documentElement.dataset.ready = 'true'
