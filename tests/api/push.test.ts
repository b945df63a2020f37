import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import webpush from 'web-push'

import type { WireEnvelope } from '../../lib/core/api'
import { registerDevices, type TestDevice } from '../support/device'
import { startPushService, type PushService } from '../support/push-service'
import { startServer, type TestServer } from '../support/server'

let push: PushService
let server: TestServer

before(async () => {
  push = await startPushService({
    ...webpush.generateVAPIDKeys(),
    subject: 'mailto:operator@tidings.invalid',
  })
  server = await startServer({
    TRUST_PROXY: '1',
    VAPID_PUBLIC_KEY: push.vapid.publicKey,
    VAPID_PRIVATE_KEY: push.vapid.privateKey,
    VAPID_SUBJECT: push.vapid.subject,
    NODE_EXTRA_CA_CERTS: push.caFile,
  })
})
after(async () => {
  await server.close()
  await push.close()
})

const bytes = (size: number, fill = 7) => new Uint8Array(size).fill(fill)

/** Waits until the push service has accepted `count` pushes for a subscription. */
async function pushesFor(subscriptionId: string, count: number) {
  const deadline = Date.now() + 10_000
  for (;;) {
    const found = push.received.filter((each) => each.subscriptionId === subscriptionId)
    if (found.length >= count) return found
    if (Date.now() > deadline) {
      throw new Error(
        `${found.length} of ${count} pushes; refused: ${push.refused.join('; ')}`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function subscribe(device: TestDevice) {
  const subscription = push.subscribe()
  const response = await device.request('PUT', '/api/push', {
    endpoint: subscription.endpoint,
    expirationTime: null,
    keys: subscription.keys,
  })
  assert.equal(response.status, 200)
  return subscription
}

function storedSubscriptions(deviceId: string): Promise<number> {
  return server.count(
    'SELECT count(*) AS n FROM "PushSubscription" WHERE "deviceId" = ?',
    deviceId,
  )
}

describe('web push', () => {
  test('the relay hands out its VAPID public key', async () => {
    const response = await fetch(`${server.url}/api/push`)
    assert.deepEqual(await response.json(), { publicKey: push.vapid.publicKey })
  })

  test('an offline device is pushed the envelope itself, signed and encrypted', async () => {
    const [alice, bob] = await registerDevices(server.url, 'pushed', 2)
    const subscription = await subscribe(bob)

    const sent = await alice.send(bob.username, [
      { deviceId: bob.deviceId, content: bytes(600) },
    ])
    assert.equal(sent.status, 200)

    const [received] = await pushesFor(subscription.id, 1)
    const payload = JSON.parse(received.text) as { v: number; envelope: WireEnvelope }
    assert.equal(payload.v, 1)
    assert.equal(payload.envelope.senderDeviceId, alice.deviceId)
    assert.deepEqual(
      Buffer.from(payload.envelope.content, 'base64'),
      Buffer.from(bytes(600)),
    )
    assert.equal(received.urgency, 'high')
    assert.ok(received.ttl > 0)
    assert.match(received.topic ?? '', /^[\w-]{1,32}$/)
    assert.deepEqual(push.refused, [])
  })

  test('an envelope too large for a push goes as a wake-up', async () => {
    const [alice, bob] = await registerDevices(server.url, 'woken', 2)
    const subscription = await subscribe(bob)

    await alice.send(bob.username, [{ deviceId: bob.deviceId, content: bytes(3_000) }])

    const [received] = await pushesFor(subscription.id, 1)
    assert.deepEqual(JSON.parse(received.text), { v: 1, wake: true })
    assert.ok(received.size <= 4096)
  })

  test('receipts and syncs (not urgent) and online devices get no push', async () => {
    const [alice, bob] = await registerDevices(server.url, 'quiet', 2)
    const subscription = await subscribe(bob)

    const receipt = await alice.request('POST', '/api/messages', {
      to: bob.username,
      urgent: false,
      envelopes: [
        { deviceId: bob.deviceId, content: Buffer.from('r').toString('base64') },
      ],
    })
    assert.equal(receipt.status, 200)
    const stream = bob.openStream()
    await stream.synced
    await alice.send(bob.username, [{ deviceId: bob.deviceId, content: bytes(10) }])
    await stream.waitFor(2)
    stream.close()

    // A push that was coming would have come by now; then one that must.
    await new Promise((resolve) => setTimeout(resolve, 300))
    await alice.send(bob.username, [{ deviceId: bob.deviceId, content: bytes(20) }])
    const pushes = await pushesFor(subscription.id, 1)
    assert.equal(pushes.length, 1)
    const payload = JSON.parse(pushes[0].text) as { envelope: WireEnvelope }
    assert.equal(Buffer.from(payload.envelope.content, 'base64').length, 20)
  })

  test('a subscription the push service calls gone (410) is deleted', async () => {
    const [alice, bob] = await registerDevices(server.url, 'expired', 2)
    const subscription = await subscribe(bob)
    assert.equal(await storedSubscriptions(bob.deviceId), 1)
    push.answerWith(subscription.id, 410)

    await alice.send(bob.username, [{ deviceId: bob.deviceId, content: bytes(10) }])

    const deadline = Date.now() + 10_000
    while ((await storedSubscriptions(bob.deviceId)) > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.equal(await storedSubscriptions(bob.deviceId), 0)
    // The envelope still waits in the queue.
    const queue = await bob.request('GET', '/api/envelopes')
    const { envelopes } = (await queue.json()) as { envelopes: WireEnvelope[] }
    assert.equal(envelopes.length, 1)
  })

  test('one subscription per device: a new one replaces the old; DELETE removes it', async () => {
    const [bob] = await registerDevices(server.url, 'replaced', 1)
    await subscribe(bob)
    const second = await subscribe(bob)
    assert.equal(await storedSubscriptions(bob.deviceId), 1)
    const [row] = await server.query<{ endpoint: string }>(
      'SELECT "endpoint" FROM "PushSubscription" WHERE "deviceId" = ?',
      bob.deviceId,
    )
    assert.equal(row.endpoint, second.endpoint)

    const removed = await bob.request('DELETE', '/api/push')
    assert.deepEqual(await removed.json(), { deleted: true })
    assert.equal(await storedSubscriptions(bob.deviceId), 0)
  })

  test('bad subscriptions get a 400 naming the field; no credential gets 401', async () => {
    const [bob] = await registerDevices(server.url, 'badsub', 1)
    const good = push.subscribe()
    const cases: [unknown, string][] = [
      [{ ...good, endpoint: 'http://127.0.0.1/push/x' }, 'endpoint'],
      [{ ...good, endpoint: 'not a url' }, 'endpoint'],
      [{ ...good, keys: { ...good.keys, p256dh: 'AAAA' } }, 'keys.p256dh'],
      [{ ...good, keys: { ...good.keys, auth: '!!' } }, 'keys.auth'],
      [{ endpoint: good.endpoint }, 'keys'],
    ]
    for (const [body, field] of cases) {
      const response = await bob.request('PUT', '/api/push', body)
      assert.equal(response.status, 400, JSON.stringify(body))
      const answer = (await response.json()) as { error: { field?: string } }
      assert.equal(answer.error.field, field)
    }
    const anonymous = await fetch(`${server.url}/api/push`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(good),
    })
    assert.equal(anonymous.status, 401)
    assert.equal(await storedSubscriptions(bob.deviceId), 0)
  })

  test('no log line holds a push endpoint', () => {
    assert.doesNotMatch(server.output(), /\/push\/[0-9a-f-]{36}/)
    assert.doesNotMatch(server.output(), new RegExp(push.origin.replace(/\./g, '\\.')))
  })
})
