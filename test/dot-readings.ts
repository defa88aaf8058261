// How an upstream may read the bytes of a decoded path, for the tests of what the proxy sends upstream.

/** `.`, `/` and `\` as a lax UTF-8 decoder reads them: overlong in two, three and four bytes, and IIS's `%c1%1c`. */
const OVERLONG: [string, string][] = ['.', '/', '\\']
  .flatMap((c): [string, string][] => {
    const high = c.charCodeAt(0) >> 6
    const low = 0x80 | (c.charCodeAt(0) & 0x3f)
    return [[String.fromCharCode(0xc0 | high, low), c], [String.fromCharCode(0xe0, 0x80 | high, low), c], [String.fromCharCode(0xf0, 0x80, 0x80 | high, low), c]]
  })
  .concat([['\xc1\x1c', '\\']])

/** How an upstream may read decoded bytes: as bytes, or as UTF-8 with overlong forms read, then NFKC and Windows' best-fit (`∕` is `/`, `∖`, `¥` and `₩` are `\`). */
export function readings(bytes: string): string[] {
  let lax = bytes
  for (const [form, c] of OVERLONG) lax = lax.replaceAll(form, c)
  const text = new TextDecoder().decode(Uint8Array.from(lax, (c) => c.charCodeAt(0)))
  return [bytes, text.normalize('NFKC').replace(/[∕⁄]/g, '/').replace(/[∖¥₩]/g, '\\')]
}
