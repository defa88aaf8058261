// The loopback upstream for the bench: its own process, so its work does not share our event loop.
// Prints its port on stdout once listening; answers every request 200 with a small fixed body.
import { createServer } from 'node:http'

const body = Buffer.from(JSON.stringify({ ok: true, pad: 'x'.repeat(48) }))

const server = createServer((req, res) => {
  req.resume()
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.byteLength })
  res.end(body)
})
server.keepAliveTimeout = 60_000
server.headersTimeout = 61_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`)
})
// Leave with the parent: it closes our stdin when it is done or dies.
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
