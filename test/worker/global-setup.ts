import type { TestProject } from 'vitest/node'
// @ts-expect-error a plain ESM script, no declarations
import { startMockUpstream } from '../../demo/mock-upstream.mjs'

declare module 'vitest' {
  interface ProvidedContext {
    upstreamUrl: string
  }
}

// The real mock downstream (a Node server on 127.0.0.1), seeded so "80% errors" fails the same requests every run.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let seed = 42
  const random = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
  const mock = await startMockUpstream({ port: 0, random })
  project.provide('upstreamUrl', mock.url)
  return () => mock.close()
}
