/** The digest that binds a private fallback copy to its credentials: a chunk of its own, loaded only for credentialed requests. */

/** The hex SHA-256 of `credentials` (a request's Authorization and Cookie, as fallback.ts joins them). */
export async function credentialDigest(subtle: SubtleCrypto, credentials: string): Promise<string> {
  const digest = await subtle.digest('SHA-256', new TextEncoder().encode(credentials))
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('')
}
