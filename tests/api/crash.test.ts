import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'

import { registerDevices } from '../support/device'
import { startServer, type TestServer } from '../support/server'

let server: TestServer

before(async () => {
  server = await startServer({ TRUST_PROXY: '1' })
})
after(() => server.close())

test('a server killed with SIGKILL between send and connect loses nothing', async () => {
  const [alice, bob] = await registerDevices(server.url, 'crash', 2)
  const sent: string[] = []
  for (let n = 0; n < 50; n++) {
    const text = `before-crash-${n}`
    const response = await alice.send(bob.username, [
      { deviceId: bob.deviceId, content: new TextEncoder().encode(text) },
    ])
    assert.equal(response.status, 200)
    sent.push(text)
  }

  await server.kill('SIGKILL')
  await server.restart()
  const stream = bob.openStream()
  await stream.synced
  stream.close()

  assert.deepEqual(
    stream.envelopes.map((e) => Buffer.from(e.content, 'base64').toString()),
    sent,
  )
})
