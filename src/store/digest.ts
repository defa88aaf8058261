/** What counts as a credential, and the digest that binds a private fallback copy to its credentials (it loads with the fallback's chunk: a recall needs it). */

/**
 * Whether a request header carries who is asking: Authorization, Proxy-Authorization, Cookie, and any header whose name
 * looks like a credential (X-Api-Key, X-Auth-Token, api-key, X-Amz-Security-Token, X-CSRF-Token...). Errs on the side
 * of not storing: the fallback store never keeps what belongs to one user unbound.
 */
export const isCredential = (name: string): boolean => /auth|token|key|session|secret|pass|cookie|jwt|[cx]srf/i.test(name)

/**
 * What the digest hashes, undefined when the request has no credential: Authorization and Cookie as they always were (a
 * copy stored before still matches), then a `name:value` line for each other credential, sorted by name as Headers
 * iterate. No value holds a newline and no name a colon, so two different sets never give the same input.
 */
export function credentialsOf(headers: Headers): string | undefined {
  let input: string | undefined
  for (const [name, value] of headers) {
    if (!isCredential(name)) continue
    input ??= `${headers.get('authorization') ?? ''}\n${headers.get('cookie') ?? ''}`
    if (name !== 'authorization' && name !== 'cookie') input += `\n${name}:${value}`
  }
  return input
}

/**
 * A hex SHA-256 of the request's credential headers, so a private copy is served only to the same credentials and no
 * secret is kept at rest. undefined: the request has none; null: no digest here (insecure page).
 * Part of the fallback's chunk, not one of its own: a recall runs when the upstream has failed, when another chunk may not load.
 */
export async function credentialDigest(headers: Headers): Promise<string | undefined | null> {
  const input = credentialsOf(headers)
  if (input === undefined) return undefined
  const subtle = globalThis.crypto?.subtle
  if (subtle === undefined) return null
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(input))
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('')
}
