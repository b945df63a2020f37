import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'

import { toBase64 } from '../../lib/core/bytes'
import { signDeviceKey, signDeviceList } from '../../lib/core/crypto/keys'
import { TestDevice } from '../support/device'
import { startServer, type TestServer } from '../support/server'

let server: TestServer

before(async () => {
  server = await startServer({ TRUST_PROXY: '1' })
})
after(() => server.close())

const unique = (name: string) => `${name}_${Math.random().toString(36).slice(2, 8)}`

/** The owner's approval: the account signs the newcomer and a list one version up. */
function approvalFor(owner: TestDevice, newcomer: TestDevice, version = 2) {
  const account = { secretKey: owner.accountSecret, publicKey: owner.accountKey }
  const list = signDeviceList(account, version, [owner.identityKey, newcomer.identityKey])
  return {
    identityKeySignature: toBase64(signDeviceKey(account, newcomer.identityKey)),
    deviceList: { bytes: toBase64(list.bytes), signature: toBase64(list.signature) },
    ephemeralKey: toBase64(randomBytes(32)),
    sealed: toBase64(randomBytes(200)),
  }
}

async function openLink(owner: TestDevice): Promise<string> {
  const response = await owner.request('POST', '/api/links', {})
  assert.equal(response.status, 201)
  return ((await response.json()) as { linkId: string }).linkId
}

/** A registered owner, its open link, and a new device that has asked on it. */
async function requestedLink() {
  const owner = await new TestDevice(server.url, unique('owner')).register()
  const newcomer = new TestDevice(server.url, owner.username)
  const linkId = await openLink(owner)
  const asked = await newcomer.request(
    'POST',
    `/api/links/${linkId}/request`,
    newcomer.linkRequest(),
  )
  assert.equal(asked.status, 202)
  return { owner, newcomer, linkId }
}

describe('linking and unlinking devices', () => {
  test('a new device links once, then logs in as a device of the account', async () => {
    const owner = await new TestDevice(server.url, unique('owner')).register()
    const newcomer = new TestDevice(server.url, owner.username)
    const linkId = await openLink(owner)

    const asked = await newcomer.request(
      'POST',
      `/api/links/${linkId}/request`,
      newcomer.linkRequest(),
    )
    const again = await new TestDevice(server.url, owner.username).request(
      'POST',
      `/api/links/${linkId}/request`,
      new TestDevice(server.url, owner.username).linkRequest(),
    )
    const pending = await newcomer.request('GET', `/api/links/${linkId}/result`)
    const approved = await owner.request(
      'POST',
      `/api/links/${linkId}/approve`,
      approvalFor(owner, newcomer),
    )
    const result = await newcomer.request('GET', `/api/links/${linkId}/result`)
    await newcomer.login()
    const account = await newcomer.request('GET', `/api/accounts/${owner.username}`)

    assert.equal(asked.status, 202)
    assert.equal(again.status, 409)
    assert.deepEqual(await pending.json(), { approved: false })
    assert.equal(approved.status, 200)
    const sealed = (await result.json()) as { approved: boolean; username: string }
    assert.equal(sealed.approved, true)
    assert.equal(sealed.username, owner.username)
    const listed = (await account.json()) as {
      devices: { deviceId: string }[]
      deviceList: { version: number }
    }
    assert.deepEqual(
      listed.devices.map((d) => d.deviceId).sort(),
      [owner.deviceId, newcomer.deviceId].sort(),
    )
    assert.equal(listed.deviceList.version, 2)
  })

  test('an approval whose list leaves out a current device is refused', async () => {
    const { owner, newcomer, linkId } = await requestedLink()
    const account = { secretKey: owner.accountSecret, publicKey: owner.accountKey }
    const list = signDeviceList(account, 2, [newcomer.identityKey])

    const response = await owner.request('POST', `/api/links/${linkId}/approve`, {
      ...approvalFor(owner, newcomer),
      deviceList: { bytes: toBase64(list.bytes), signature: toBase64(list.signature) },
    })

    assert.equal(response.status, 400)
    assert.deepEqual(await response.json(), {
      error: {
        code: 'invalid-request',
        message:
          'body.deviceList.bytes: must name exactly the account devices after the change',
        field: 'deviceList.bytes',
      },
    })
  })

  test('another account cannot read or approve a link', async () => {
    const { owner, newcomer, linkId } = await requestedLink()
    const stranger = await new TestDevice(server.url, unique('stranger')).register()

    const read = await stranger.request('GET', `/api/links/${linkId}`)
    const approve = await stranger.request(
      'POST',
      `/api/links/${linkId}/approve`,
      approvalFor(owner, newcomer),
    )

    assert.equal(read.status, 404)
    assert.equal(approve.status, 404)
  })

  test('an unlinked device loses its credential and its queue', async () => {
    const { owner, newcomer, linkId } = await requestedLink()
    await owner.request(
      'POST',
      `/api/links/${linkId}/approve`,
      approvalFor(owner, newcomer),
    )
    await newcomer.login()
    const account = { secretKey: owner.accountSecret, publicKey: owner.accountKey }
    const stale = signDeviceList(account, 2, [owner.identityKey])
    const fresh = signDeviceList(account, 3, [owner.identityKey])

    const refused = await owner.request('DELETE', `/api/devices/${newcomer.deviceId}`, {
      deviceList: { bytes: toBase64(stale.bytes), signature: toBase64(stale.signature) },
    })
    const removed = await owner.request('DELETE', `/api/devices/${newcomer.deviceId}`, {
      deviceList: { bytes: toBase64(fresh.bytes), signature: toBase64(fresh.signature) },
    })
    const afterwards = await newcomer.request('GET', '/api/envelopes')

    assert.equal(refused.status, 400)
    assert.equal(removed.status, 200)
    assert.deepEqual(await removed.json(), { deviceListVersion: 3 })
    assert.equal(afterwards.status, 401)
  })
})
