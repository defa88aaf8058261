/** Entry of the dashboard page: two views behind tabs; `#worker` opens the Worker view, in a link or typed later. */
import { sceneFromQuery } from './scenes'
import { SimulationView } from './sim-view'
import { WorkerView } from './worker-view'

type View = 'simulation' | 'worker'

new SimulationView(document.querySelector<HTMLElement>('#simulation')!, sceneFromQuery(location.search))
const worker = new WorkerView(document.querySelector<HTMLElement>('#worker')!)
let workerVisited = false
const tabs = [...document.querySelectorAll<HTMLButtonElement>('[role="tab"]')]

function viewOfHash(): View {
  return location.hash === '#worker' ? 'worker' : 'simulation'
}

function show(view: View): void {
  for (const tab of tabs) {
    const selected = tab.dataset.view === view
    tab.setAttribute('aria-selected', String(selected))
    tab.tabIndex = selected ? 0 : -1
    document.getElementById(tab.getAttribute('aria-controls')!)!.hidden = !selected
  }
  // Connect on the first visit only: a page served without a proxy must not hit a missing /events.
  if (view === 'worker' && !workerVisited) worker.connect()
  workerVisited ||= view === 'worker'
}

for (const tab of tabs) {
  tab.addEventListener('click', () => {
    const view = tab.dataset.view as View
    show(view)
    // replaceState fires no hashchange; the address says which view is open, without a history entry per click.
    if (viewOfHash() !== view) history.replaceState(null, '', view === 'worker' ? '#worker' : location.pathname + location.search)
  })
  // Arrow keys move between tabs, as in the WAI-ARIA tabs pattern.
  tab.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return
    const next = tabs[(tabs.indexOf(tab) + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]
    next.focus()
    next.click()
  })
}

// A link to /#worker, a typed hash, Back and Forward all change only the hash: follow them.
window.addEventListener('hashchange', () => show(viewOfHash()))
show(viewOfHash())
