/**
 * Scenes: named starting points for the simulation. The page opens on one endpoint degrading
 * while the others stay healthy, because breakers per endpoint are the point of the library.
 */
import type { TrafficSettings } from './simulation'

export const ENDPOINTS: readonly string[] = ['users', 'orders', 'search', 'payments']

export const DEFAULT_TRAFFIC: TrafficSettings = { errorRate: 0, latency: 120, rate: 3, slowShare: 0 }

export interface Scene {
  id: string
  label: string
  /** One or two sentences: what is wrong, and what to watch. */
  description: string
  /** The traffic of each endpoint in this scene. */
  traffic(endpoint: string): TrafficSettings
}

/** The endpoint that degrades in the opening scene. */
export const DEGRADING_ENDPOINT = 'payments'

export const SCENES: readonly Scene[] = [
  {
    id: 'degraded',
    label: `${DEGRADING_ENDPOINT} degrades`,
    description: `${DEGRADING_ENDPOINT} fails 70 % of its answers and slows down: its breaker opens, probes and opens again, and its callers get the last good copy, while users, orders and search stay closed.`,
    traffic: (endpoint) => (endpoint === DEGRADING_ENDPOINT ? { ...DEFAULT_TRAFFIC, errorRate: 70, latency: 300 } : { ...DEFAULT_TRAFFIC }),
  },
  {
    id: 'slow-tail',
    label: 'Slow tail',
    description: 'One answer in twenty takes 1.5 s, the rest about 80 ms: p99 climbs far above p50. Turn hedging on and watch p99 fall back while the hedges count rises.',
    traffic: () => ({ ...DEFAULT_TRAFFIC, latency: 80, slowShare: 5, rate: 5 }),
  },
  {
    id: 'outage',
    label: 'Full outage',
    description: 'Every endpoint fails every answer: all four breakers open, calls fail fast or get the last good copy, and probes test the way back.',
    traffic: () => ({ ...DEFAULT_TRAFFIC, errorRate: 100 }),
  },
  {
    id: 'healthy',
    label: 'All healthy',
    description: 'Every endpoint answers in about 120 ms and never fails: all breakers stay closed.',
    traffic: () => ({ ...DEFAULT_TRAFFIC }),
  },
]

export const DEFAULT_SCENE = SCENES[0]

/** The scene named in `?scene=`, else the default. */
export function sceneFromQuery(search: string): Scene {
  const id = new URLSearchParams(search).get('scene')
  return SCENES.find((scene) => scene.id === id) ?? DEFAULT_SCENE
}
