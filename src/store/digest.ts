/** The digest that binds a private fallback copy to its credentials (it loads with the fallback's chunk: a recall needs it). */

/**
 * A hex SHA-256 of the request's Authorization and Cookie, so a private copy is served only to the same
 * credentials and no secret is kept at rest. undefined: the request has neither; null: no digest here (insecure page).
 * Part of the fallback's chunk, not one of its own: a recall runs when the upstream has failed, when another chunk may not load.
 */
export async function credentialDigest(headers: Headers): Promise<string | undefined | null> {
  if (!headers.has('authorization') && !headers.has('cookie')) return undefined
  const subtle = globalThis.crypto?.subtle
  if (subtle === undefined) return null
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(`${headers.get('authorization') ?? ''}\n${headers.get('cookie') ?? ''}`))
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('')
}
