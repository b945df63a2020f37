import net from 'node:net'

/**
 * A port nothing listens on now, on 127.0.0.1, for a server a test or the
 * benchmark is about to start (servers, databases, brokers).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() =>
        resolve(typeof address === 'object' && address ? address.port : 0),
      )
    })
  })
}
