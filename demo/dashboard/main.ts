/** Entry of the dashboard page: two views behind tabs, `#worker` opens the Worker view. */
import { SimulationView } from './sim-view'
import { WorkerView } from './worker-view'

new SimulationView(document.querySelector<HTMLElement>('#simulation')!)
const worker = new WorkerView(document.querySelector<HTMLElement>('#worker')!)
let workerVisited = false
const tabs = [...document.querySelectorAll<HTMLButtonElement>('[role="tab"]')]

function show(view: 'simulation' | 'worker'): void {
  for (const tab of tabs) {
    const selected = tab.dataset.view === view
    tab.setAttribute('aria-selected', String(selected))
    tab.tabIndex = selected ? 0 : -1
    document.getElementById(tab.getAttribute('aria-controls')!)!.hidden = !selected
  }
  // Connect on the first visit only: a page served without a proxy must not hit a missing /events.
  if (view === 'worker' && !workerVisited) worker.connect()
  workerVisited ||= view === 'worker'
  history.replaceState(null, '', view === 'worker' ? '#worker' : location.pathname + location.search)
}

for (const tab of tabs) {
  tab.addEventListener('click', () => show(tab.dataset.view as 'simulation' | 'worker'))
  // Arrow keys move between tabs, as in the WAI-ARIA tabs pattern.
  tab.addEventListener('keydown', (event) => {
    if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') return
    const next = tabs[(tabs.indexOf(tab) + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]
    next.focus()
    next.click()
  })
}

show(location.hash === '#worker' ? 'worker' : 'simulation')
