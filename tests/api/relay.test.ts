import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { registerDevices, TestDevice } from '../support/device'
import { startServer, type TestServer } from '../support/server'

let server: TestServer

before(async () => {
  server = await startServer({ TRUST_PROXY: '1' })
})
after(() => server.close())

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (base64: string) => Buffer.from(base64, 'base64').toString()

describe('relay', () => {
  test('an envelope to an online device arrives over its stream at once', async () => {
    const [alice, bob] = await registerDevices(server.url, 'online', 2)
    const stream = bob.openStream()
    await stream.synced

    const response = await alice.send(bob.username, [
      { deviceId: bob.deviceId, content: bytes('opaque-1') },
    ])
    const [envelope] = await stream.waitFor(1)
    stream.close()

    assert.equal(response.status, 200)
    const receipt = (await response.json()) as {
      serverTimestamp: number
      envelopes: { deviceId: string; seq: number; serverId: string }[]
    }
    assert.deepEqual(receipt.envelopes, [
      { deviceId: bob.deviceId, seq: 1, serverId: `${bob.deviceId}.1` },
    ])
    assert.equal(envelope?.senderDeviceId, alice.deviceId)
    assert.equal(envelope?.serverTimestamp, receipt.serverTimestamp)
    assert.equal(text(envelope.content), 'opaque-1')
  })

  test('an offline device gets its queue on connect; ack deletes, the rest returns', async () => {
    const [alice, bob] = await registerDevices(server.url, 'offline', 2)
    for (const n of [1, 2, 3]) {
      const sent = await alice.send(bob.username, [
        { deviceId: bob.deviceId, content: bytes(`queued-${n}`) },
      ])
      assert.equal(sent.status, 200)
    }

    const first = bob.openStream()
    const delivered = await first.waitFor(3)
    await bob.ack([delivered[0].seq, delivered[1].seq])
    first.close()
    const second = bob.openStream()
    await second.synced
    second.close()

    assert.deepEqual(
      delivered.map((e) => text(e.content)),
      ['queued-1', 'queued-2', 'queued-3'],
    )
    assert.deepEqual(
      second.envelopes.map((e) => text(e.content)),
      ['queued-3'],
    )
  })

  test('a reconnect with Last-Event-ID resumes right after it, with no duplicate', async () => {
    const [alice, bob] = await registerDevices(server.url, 'resume', 2)
    const send = (n: number) =>
      alice.send(bob.username, [{ deviceId: bob.deviceId, content: bytes(`m${n}`) }])
    await send(1)
    await send(2)
    const first = bob.openStream()
    await first.waitFor(2)
    const cursor = first.lastEventId()
    first.close()

    await send(3)
    const second = bob.openStream(cursor)
    await second.synced
    await send(4)
    await second.waitFor(2)
    second.close()

    assert.equal(cursor, '2')
    assert.deepEqual(
      second.envelopes.map((e) => text(e.content)),
      ['m3', 'm4'],
    )
  })

  test('a backlog of large envelopes arrives whole and in order, split over events', async () => {
    const [alice, bob] = await registerDevices(server.url, 'large', 2)
    const sizes = Array.from({ length: 30 }, (_, n) => 90_000 + n)
    for (const size of sizes) {
      const content = new Uint8Array(size).fill(size % 251)
      const response = await alice.send(bob.username, [
        { deviceId: bob.deviceId, content },
      ])
      assert.equal(response.status, 200)
    }

    const stream = bob.openStream()
    await stream.synced
    stream.close()

    assert.deepEqual(
      stream.envelopes.map((e) => Buffer.from(e.content, 'base64').length),
      sizes,
    )
    const events = stream.events.filter((name) => name === 'envelopes').length
    assert.ok(events >= 3, `expected the 3.6 MB backlog in several events, got ${events}`)
  })

  test('a cursor past the end of the queue still gets every envelope', async () => {
    const [alice, bob] = await registerDevices(server.url, 'stale', 2)
    await alice.send(bob.username, [
      { deviceId: bob.deviceId, content: bytes('after restore') },
    ])

    const stream = bob.openStream('999999')
    await stream.synced
    stream.close()

    assert.deepEqual(
      stream.envelopes.map((e) => text(e.content)),
      ['after restore'],
    )
  })

  test('a device may hold five streams at once; a sixth is refused with 429', async () => {
    const [device] = await registerDevices(server.url, 'streams', 1)
    const open = Array.from({ length: 5 }, () => device.openStream())
    await Promise.all(open.map((stream) => stream.synced))

    const sixth = await device.request('GET', '/api/stream')
    for (const stream of open) stream.close()

    assert.equal(sixth.status, 429)
    assert.equal(sixth.headers.get('retry-after'), '5')
    assert.deepEqual(await sixth.json(), {
      error: {
        code: 'rate-limited',
        message: 'stream: too many open streams for this device',
      },
    })
  })

  test('backlog and live envelopes meet without gap or duplicate', async () => {
    const [alice, bob] = await registerDevices(server.url, 'seam', 2)
    const sendMany = async (from: number, count: number) => {
      for (let n = from; n < from + count; n++) {
        const response = await alice.send(bob.username, [
          { deviceId: bob.deviceId, content: bytes(`s${n}`) },
        ])
        assert.equal(response.status, 200)
      }
    }
    await sendMany(0, 120)

    const stream = bob.openStream()
    await sendMany(120, 60)
    await stream.waitFor(180)
    stream.close()

    const seqs = stream.envelopes.map((e) => e.seq)
    assert.deepEqual(
      seqs,
      Array.from({ length: 180 }, (_, index) => index + 1),
    )
  })

  test('a send names every recipient device and the sender’s other devices', async () => {
    const [alice, bob] = await registerDevices(server.url, 'fanout', 2)
    const stranger = 'AAAAAAAAAAAAAAAAAAAAAA'

    const response = await alice.send(bob.username, [
      { deviceId: stranger, content: bytes('x') },
    ])

    assert.equal(response.status, 409)
    assert.deepEqual(await response.json(), {
      error: {
        code: 'device-mismatch',
        message: 'body.envelopes: devices do not match the current device lists',
        field: 'envelopes',
      },
      missingDevices: [bob.deviceId],
      extraDevices: [stranger],
    })
  })

  test('a device cannot read or acknowledge another device’s queue', async () => {
    const [alice, bob, mallory] = await registerDevices(server.url, 'isolation', 3)
    await alice.send(bob.username, [
      { deviceId: bob.deviceId, content: bytes('private') },
    ])

    const deleted = await mallory.ack([1])
    const page = await mallory.request('GET', '/api/envelopes?after=0&limit=10')
    const malloryStream = mallory.openStream()
    await malloryStream.synced
    malloryStream.close()
    const bobStream = bob.openStream()
    await bobStream.synced
    bobStream.close()

    assert.equal(deleted, 0)
    assert.deepEqual(await page.json(), { envelopes: [] })
    assert.equal(malloryStream.envelopes.length, 0)
    assert.deepEqual(
      bobStream.envelopes.map((e) => text(e.content)),
      ['private'],
    )
  })

  test('a request without a valid credential is refused', async () => {
    const anonymous = new TestDevice(server.url, 'nobody')
    anonymous.token = 'x'.repeat(43)

    const response = await anonymous.request('GET', '/api/envelopes')

    assert.equal(response.status, 401)
    assert.deepEqual(await response.json(), {
      error: {
        code: 'unauthorized',
        message: 'credential unknown or expired; log in again',
      },
    })
  })

  test('the queue can be read in pages, for the service worker', async () => {
    const [alice, bob] = await registerDevices(server.url, 'pages', 2)
    for (const n of [1, 2, 3]) {
      await alice.send(bob.username, [
        { deviceId: bob.deviceId, content: bytes(`p${n}`) },
      ])
    }

    const page = await bob.request('GET', '/api/envelopes?after=1&limit=1')

    const body = (await page.json()) as { envelopes: { seq: number; content: string }[] }
    assert.deepEqual(
      body.envelopes.map((e) => [e.seq, text(e.content)]),
      [[2, 'p2']],
    )
  })

  test('no credential, key or content appears in the server log', async () => {
    const [alice, bob] = await registerDevices(server.url, 'logs', 2)
    const secret = 'log-canary-' + Math.random().toString(36).slice(2)
    await alice.send(bob.username, [{ deviceId: bob.deviceId, content: bytes(secret) }])

    const log = server.output()

    assert.ok(!log.includes(alice.token), 'token in log')
    assert.ok(!log.includes(Buffer.from(secret).toString('base64')), 'content in log')
    assert.ok(
      !log.includes(Buffer.from(alice.identityKey).toString('base64')),
      'key in log',
    )
    assert.ok(!log.includes(alice.deviceId), 'full device id in log')
  })
})
