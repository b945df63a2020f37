import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { TestDevice } from '../support/device'
import { startServer, type TestServer } from '../support/server'

let server: TestServer

before(async () => {
  server = await startServer({ TRUST_PROXY: '1' })
})
after(() => server.close())

const unique = (name: string) => `${name}_${Math.random().toString(36).slice(2, 8)}`

describe('accounts', () => {
  test('a device registers, logs in with its key and looks itself up', async () => {
    const alice = await new TestDevice(server.url, unique('alice')).register()

    const response = await alice.request('GET', `/api/accounts/${alice.username}`)

    assert.equal(response.status, 200)
    const account = (await response.json()) as {
      devices: { deviceId: string; name?: string }[]
      deviceList: { version: number }
    }
    assert.deepEqual(
      account.devices.map((device) => device.deviceId),
      [alice.deviceId],
    )
    assert.equal(account.devices[0]?.name, 'Test device')
    assert.equal(account.deviceList.version, 1)
  })

  test('usernames are unique regardless of case', async () => {
    const name = unique('carol')
    await new TestDevice(server.url, name).register()

    const again = new TestDevice(server.url, name.toUpperCase())
    const response = await again.request(
      'POST',
      '/api/accounts',
      again.registrationBody(),
    )

    assert.equal(response.status, 409)
    assert.deepEqual(await response.json(), {
      error: {
        code: 'conflict',
        message: 'register: username is taken',
        field: 'username',
      },
    })
  })

  test('contacts see device keys but not device names', async () => {
    const alice = await new TestDevice(server.url, unique('alice')).register()
    const bob = await new TestDevice(server.url, unique('bob')).register()

    const response = await bob.request('GET', `/api/accounts/${alice.username}`)
    const account = (await response.json()) as { devices: { name?: string }[] }

    assert.equal(account.devices[0]?.name, undefined)
  })

  test('a device id leads to its account name; unknown and malformed ids are 4xx', async () => {
    const alice = await new TestDevice(server.url, unique('alice')).register()
    const bob = await new TestDevice(server.url, unique('bob')).register()

    const known = await bob.request('GET', `/api/devices/${alice.deviceId}`)
    const unknown = await bob.request('GET', `/api/devices/${'A'.repeat(22)}`)
    const malformed = await bob.request('GET', '/api/devices/not-a-device')

    assert.equal(known.status, 200)
    assert.deepEqual(await known.json(), { username: alice.username })
    assert.equal(unknown.status, 404)
    assert.deepEqual(await unknown.json(), {
      error: { code: 'not-found', message: 'deviceId: no such device' },
    })
    assert.equal(malformed.status, 400)
    assert.deepEqual(await malformed.json(), {
      error: {
        code: 'invalid-request',
        message: 'deviceId: expected a device id',
        field: 'deviceId',
      },
    })
  })

  test('a login with a signature from another key is refused', async () => {
    const alice = await new TestDevice(server.url, unique('alice')).register()
    const mallory = await new TestDevice(server.url, unique('mallory')).register()
    const challenge = await mallory.request('POST', '/api/auth/challenge', {
      deviceId: alice.deviceId,
    })
    const { challengeId, nonce } = (await challenge.json()) as {
      challengeId: string
      nonce: string
    }

    const { ed25519 } = await import('@noble/curves/ed25519.js')
    const { authStatement } = await import('../../lib/core/statements')
    const { fromBase64, toBase64 } = await import('../../lib/core/bytes')
    const forged = ed25519.sign(
      authStatement(alice.deviceId, fromBase64(nonce)),
      mallory.identitySecret,
    )
    const response = await fetch(`${server.url}/api/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ challengeId, signature: toBase64(forged) }),
    })

    assert.equal(response.status, 401)
  })

  test('a challenge answers once only', async () => {
    const alice = await new TestDevice(server.url, unique('alice')).register()
    const challenge = await alice.request('POST', '/api/auth/challenge', {
      deviceId: alice.deviceId,
    })
    const { challengeId, nonce } = (await challenge.json()) as {
      challengeId: string
      nonce: string
    }
    const { ed25519 } = await import('@noble/curves/ed25519.js')
    const { authStatement } = await import('../../lib/core/statements')
    const { fromBase64, toBase64 } = await import('../../lib/core/bytes')
    const signature = toBase64(
      ed25519.sign(
        authStatement(alice.deviceId, fromBase64(nonce)),
        alice.identitySecret,
      ),
    )
    const redeem = () =>
      fetch(`${server.url}/api/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ challengeId, signature }),
      })

    const first = await redeem()
    const replay = await redeem()

    assert.equal(first.status, 200)
    assert.equal(replay.status, 401)
  })
})

describe('prekeys', () => {
  test('concurrent bundle fetches never get the same one-time key', async () => {
    const alice = await new TestDevice(server.url, unique('alice')).register(25)
    const bob = await new TestDevice(server.url, unique('bob')).register()

    const fetches = await Promise.all(
      Array.from({ length: 30 }, () =>
        bob
          .request('GET', `/api/accounts/${alice.username}/bundles`)
          .then((r) => r.json()),
      ),
    )

    const bundles = fetches.map(
      (body) =>
        (
          body as {
            bundles: {
              oneTimePrekey: { keyId: number } | null
              kemPrekey: { keyId: number; lastResort: boolean }
            }[]
          }
        ).bundles[0],
    )
    const ecIds = bundles.flatMap((b) => (b.oneTimePrekey ? [b.oneTimePrekey.keyId] : []))
    const kemIds = bundles
      .filter((b) => !b.kemPrekey.lastResort)
      .map((b) => b.kemPrekey.keyId)
    assert.equal(ecIds.length, 25)
    assert.equal(new Set(ecIds).size, 25)
    assert.equal(new Set(kemIds).size, 25)
    assert.equal(bundles.filter((b) => b.oneTimePrekey === null).length, 5)
    assert.equal(bundles.filter((b) => b.kemPrekey.lastResort).length, 5)
  })

  test('the owner is told when its one-time keys run low, then replenishes', async () => {
    const alice = await new TestDevice(server.url, unique('alice')).register(10)
    const bob = await new TestDevice(server.url, unique('bob')).register()
    const stream = alice.openStream()
    await stream.synced

    await bob.request('GET', `/api/accounts/${alice.username}/bundles`)
    await waitUntil(() => stream.events.includes('prekeys-low'))
    const upload = await alice.request('PUT', '/api/keys', alice.oneTimeKeys(50, 100))
    stream.close()

    assert.equal(upload.status, 200)
    assert.deepEqual(await upload.json(), { oneTimePrekeys: 59, oneTimeKemPrekeys: 59 })
  })

  test('a one-time ML-KEM key with a bad signature is refused and nothing is stored', async () => {
    const alice = await new TestDevice(server.url, unique('alice')).register(10)
    const keys = alice.oneTimeKeys(3, 500)
    keys.oneTimeKemPrekeys[2].signature = keys.oneTimeKemPrekeys[0].signature.replace(
      /^./,
      (c) => (c === 'A' ? 'B' : 'A'),
    )

    const response = await alice.request('PUT', '/api/keys', keys)
    const stock = (await (await alice.request('GET', '/api/keys')).json()) as unknown

    assert.equal(response.status, 400)
    assert.deepEqual(await response.json(), {
      error: {
        code: 'invalid-request',
        message: 'body.oneTimeKemPrekeys.2.signature: does not verify',
        field: 'oneTimeKemPrekeys.2',
      },
    })
    assert.deepEqual(stock, {
      counts: { oneTimePrekeys: 10, oneTimeKemPrekeys: 10 },
      low: false,
    })
  })
})

describe('presence', () => {
  test('a contact shows online while a stream is open, then last seen', async () => {
    const alice = await new TestDevice(server.url, unique('alice')).register()
    const bob = await new TestDevice(server.url, unique('bob')).register()
    const presence = async () =>
      (await (
        await bob.request('GET', `/api/accounts/${alice.username}/presence`)
      ).json()) as {
        online: boolean
        lastSeenAt: number
      }

    const stream = alice.openStream()
    await stream.synced
    const whileOpen = await presence()
    stream.close()
    await waitUntil(async () => !(await presence()).online)
    const afterClose = await presence()

    assert.equal(whileOpen.online, true)
    assert.equal(afterClose.online, false)
    assert.ok(Date.now() - afterClose.lastSeenAt < 70_000, 'last seen within the minute')
    assert.equal(
      afterClose.lastSeenAt % 60_000,
      0,
      'contacts see minutes, not milliseconds',
    )
    assert.equal('devices' in afterClose, false, 'contacts do not see devices')
  })
})

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
