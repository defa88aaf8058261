// The slice of 'cloudflare:test' and 'cloudflare:workers' these tests use (the full types clash with lib.dom).
declare module 'cloudflare:test' {
  export function runInDurableObject<O, R>(stub: unknown, callback: (instance: O, state: unknown) => R | Promise<R>): Promise<R>
  export function runDurableObjectAlarm(stub: unknown): Promise<boolean>
}
declare module 'cloudflare:workers' {
  export const env: Record<string, unknown>
}
