/**
 * An attacker's view of the relay: Mallory holds a valid credential for her
 * own device and tries to act on others'. Each test says what she tries and
 * checks that the victim's data is as it was.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'

import type { WireEnvelope } from '../../lib/core/api'
import { toBase64 } from '../../lib/core/bytes'
import { MAX_ENVELOPES_PER_SEND } from '../../lib/core/limits'
import { registerDevices, TestDevice } from '../support/device'
import { startServer, type TestServer } from '../support/server'

let server: TestServer

before(async () => {
  server = await startServer({ TRUST_PROXY: '1' })
})
after(() => server.close())

const opaque = (size = 16) => toBase64(randomBytes(size))

function count(sql: string, ...params: unknown[]): Promise<number> {
  return server.count(sql, ...params)
}

async function stockOf(device: TestDevice) {
  const response = await device.request('GET', '/api/keys')
  const { counts } = (await response.json()) as {
    counts: { oneTimePrekeys: number; oneTimeKemPrekeys: number }
  }
  return counts
}

describe('an attacker with a valid credential for one device', () => {
  test('cannot read, acknowledge or delete another device’s envelopes', async () => {
    const [alice, bob, mallory] = await registerDevices(server.url, 'queue', 3)
    await alice.send(bob.username, [{ deviceId: bob.deviceId, content: randomBytes(8) }])

    // The queue and ack routes act on the caller's own device; naming
    // another one is not part of the API and is refused.
    const read = await mallory.request('GET', `/api/envelopes?deviceId=${bob.deviceId}`)
    const acked = await mallory.request('POST', '/api/envelopes/ack', {
      seqs: [1],
      deviceId: bob.deviceId,
    })
    const ackedOwn = await mallory.request('POST', '/api/envelopes/ack', { seqs: [1, 2] })
    const unlinked = await mallory.request('DELETE', `/api/devices/${bob.deviceId}`, {
      deviceList: { bytes: opaque(40), signature: opaque(64) },
    })

    assert.equal(read.status, 400)
    assert.equal(acked.status, 400)
    assert.deepEqual(await ackedOwn.json(), { deleted: 0 })
    assert.ok([403, 404].includes(unlinked.status), String(unlinked.status))
    const queue = await bob.request('GET', '/api/envelopes')
    const { envelopes } = (await queue.json()) as { envelopes: WireEnvelope[] }
    assert.equal(envelopes.length, 1)
  })

  test('cannot publish prekeys or a push subscription for another device', async () => {
    const [victim, mallory] = await registerDevices(server.url, 'keys', 2)
    const before = await stockOf(victim)

    const keys = await mallory.request('PUT', '/api/keys', {
      ...mallory.oneTimeKeys(5, 500),
      deviceId: victim.deviceId,
    })
    // Keys signed by the victim's account would need the victim's key;
    // Mallory's own signatures on an upload for her device are all she has.
    const forged = await mallory.request('PUT', '/api/keys', victim.oneTimeKeys(5, 600))
    const push = await mallory.request('PUT', '/api/push', {
      endpoint: 'https://push.invalid/mallory',
      keys: {
        p256dh: Buffer.from([4, ...randomBytes(64)]).toString('base64url'),
        auth: randomBytes(16).toString('base64url'),
      },
      deviceId: victim.deviceId,
    })

    assert.equal(keys.status, 400)
    assert.equal(forged.status, 400)
    assert.deepEqual(await stockOf(victim), before)
    // The subscription (extra fields are dropped) went to Mallory's own device.
    assert.equal(push.status, 200)
    assert.equal(
      await count(
        'SELECT count(*) AS n FROM "PushSubscription" WHERE "deviceId" = ?',
        mallory.deviceId,
      ),
      1,
    )
    assert.equal(
      await count(
        'SELECT count(*) AS n FROM "PushSubscription" WHERE "deviceId" = ?',
        victim.deviceId,
      ),
      0,
    )
  })

  test('cannot send as another device', async () => {
    const [alice, bob, mallory] = await registerDevices(server.url, 'spoof', 3)
    const spoofed = await mallory.request('POST', '/api/messages', {
      to: bob.username,
      senderDeviceId: alice.deviceId,
      envelopes: [{ deviceId: bob.deviceId, content: opaque() }],
    })
    const sent = await mallory.send(bob.username, [
      { deviceId: bob.deviceId, content: randomBytes(16) },
    ])

    assert.equal(spoofed.status, 400)
    assert.equal(sent.status, 200)
    const queue = await bob.request('GET', '/api/envelopes')
    const { envelopes } = (await queue.json()) as { envelopes: WireEnvelope[] }
    assert.deepEqual(
      envelopes.map((envelope) => envelope.senderDeviceId),
      [mallory.deviceId],
    )
  })

  test('cannot replay a captured login, nor use a forged credential', async () => {
    const [alice] = await registerDevices(server.url, 'replay', 1)
    const challenge = await alice.request('POST', '/api/auth/challenge', {
      deviceId: alice.deviceId,
    })
    const { challengeId } = (await challenge.json()) as { challengeId: string }
    // A token request is a signature over a one-time nonce; the first use
    // (here a wrong one) burns the challenge for everyone.
    const first = await alice.request('POST', '/api/auth/token', {
      challengeId,
      signature: opaque(64),
    })
    const replayed = await alice.request('POST', '/api/auth/token', {
      challengeId,
      signature: opaque(64),
    })
    const stolen = await fetch(`${server.url}/api/keys`, {
      headers: { authorization: `Bearer ${alice.token}x` },
    })

    assert.equal(first.status, 401)
    assert.equal(replayed.status, 401)
    assert.equal(stolen.status, 401)
  })

  test('cannot guess a link code: unknown, expired and used codes, and a rate limit', async () => {
    const owner = await new TestDevice(
      server.url,
      `owner_${Math.random().toString(36).slice(2, 8)}`,
    ).register()
    const opened = await owner.request('POST', '/api/links', {})
    const { linkId } = (await opened.json()) as { linkId: string }
    const guesser = new TestDevice(server.url, owner.username)

    const first = await guesser.request(
      'POST',
      `/api/links/${linkId}/request`,
      guesser.linkRequest(),
    )
    const reused = await new TestDevice(server.url, owner.username).request(
      'POST',
      `/api/links/${linkId}/request`,
      guesser.linkRequest(),
    )
    assert.equal(first.status, 202)
    assert.equal(reused.status, 409)

    const expiring = await owner.request('POST', '/api/links', {})
    const { linkId: expired } = (await expiring.json()) as { linkId: string }
    await server.query(
      'UPDATE "Link" SET "expiresAt" = ? WHERE "id" = ?',
      new Date(Date.now() - 1),
      expired,
    )
    const late = await guesser.request(
      'POST',
      `/api/links/${expired}/request`,
      guesser.linkRequest(),
    )
    assert.equal(late.status, 404)

    // Guessing from one address: 404s until the limit, then 429s.
    const statuses: number[] = []
    for (let attempt = 0; attempt < 30; attempt++) {
      const guess = randomBytes(9).toString('base64url')
      const response = await guesser.request(
        'POST',
        `/api/links/${guess}/request`,
        guesser.linkRequest(),
      )
      statuses.push(response.status)
    }
    assert.ok(statuses.every((status) => status === 404 || status === 429))
    assert.ok(statuses.includes(429), 'no 429 after 30 guesses')
    assert.ok(statuses.filter((status) => status === 404).length <= 20)
  })

  test('cannot exhaust someone’s one-time prekeys faster than the limit', async () => {
    const [victim, mallory] = await registerDevices(server.url, 'drain', 2)
    await victim.request('PUT', '/api/keys', victim.oneTimeKeys(80, 100))
    const before = await stockOf(victim)

    const statuses: number[] = []
    for (let attempt = 0; attempt < 90; attempt++) {
      const response = await mallory.request(
        'GET',
        `/api/accounts/${victim.username}/bundles`,
      )
      statuses.push(response.status)
    }
    const served = statuses.filter((status) => status === 200).length
    const after = await stockOf(victim)

    assert.ok(statuses.includes(429), 'no 429 after 90 bundle fetches')
    assert.ok(served <= 62, `${served} bundles served`)
    assert.equal(before.oneTimePrekeys - after.oneTimePrekeys, served)
    assert.ok(after.oneTimePrekeys >= before.oneTimePrekeys - 62)
  })
})

describe('limits hold', () => {
  test(`more than ${MAX_ENVELOPES_PER_SEND} envelopes in one send is refused`, async () => {
    const [alice, bob] = await registerDevices(server.url, 'many', 2)
    const response = await alice.request('POST', '/api/messages', {
      to: bob.username,
      envelopes: Array.from({ length: MAX_ENVELOPES_PER_SEND + 1 }, () => ({
        deviceId: bob.deviceId,
        content: opaque(),
      })),
    })
    assert.equal(response.status, 400)
    const body = (await response.json()) as { error: { field: string } }
    assert.equal(body.error.field, 'envelopes')
  })

  const burstTest =
    'a device sending past its burst gets 429 with Retry-After; nothing past it is stored'
  test(burstTest, async () => {
    const [alice, bob] = await registerDevices(server.url, 'burst', 2)
    let accepted = 0
    let refused: Response | null = null
    for (let attempt = 0; attempt < 400 && !refused; attempt++) {
      const response = await alice.send(bob.username, [
        { deviceId: bob.deviceId, content: randomBytes(8) },
      ])
      if (response.status === 200) accepted++
      else refused = response
    }

    assert.equal(refused?.status, 429)
    assert.match(refused?.headers.get('retry-after') ?? '', /^\d+$/)
    assert.ok(accepted >= 200, `${accepted} accepted before the limit`)
    assert.equal(
      await count(
        'SELECT count(*) AS n FROM "Envelope" WHERE "recipientDeviceId" = ?',
        bob.deviceId,
      ),
      accepted,
    )
  })
})
