import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { toBase64 } from '../../lib/core/bytes'
import { deviceIdFromIdentityKey } from '../../lib/core/device-id'
import { UntrustedKeyError } from '../../lib/core/crypto/errors'
import {
  createAccountIdentity,
  signDeviceKey,
  signDeviceList,
} from '../../lib/core/crypto/keys'
import type { PublishedAccount } from '../../lib/browser/relay-client'
import { verifyAccount } from '../../lib/browser/trust'

/** An account as the relay would publish it, every signature made properly. */
function published(deviceCount: number, version = 1) {
  const account = createAccountIdentity()
  const devices = Array.from({ length: deviceCount }, () => createAccountIdentity())
  const list = signDeviceList(
    account,
    version,
    devices.map((device) => device.publicKey),
  )
  const body: PublishedAccount = {
    username: 'carol',
    identityKey: toBase64(account.publicKey),
    deviceList: {
      bytes: toBase64(list.bytes),
      signature: toBase64(list.signature),
      version,
    },
    devices: devices.map((device) => ({
      deviceId: deviceIdFromIdentityKey(device.publicKey),
      identityKey: toBase64(device.publicKey),
      identityKeySignature: toBase64(signDeviceKey(account, device.publicKey)),
    })),
  }
  return { account, devices, body }
}

describe('verifying an account before encrypting to it', () => {
  test('a properly signed account keeps every device on its list', () => {
    const { body, devices } = published(2)

    const verified = verifyAccount(body)

    assert.deepEqual(
      verified.devices.map((device) => device.deviceId),
      devices.map((device) => deviceIdFromIdentityKey(device.publicKey)),
    )
    assert.equal(verified.deviceListVersion, 1)
  })

  test('a device list signed by another key is refused', () => {
    const { body } = published(1)
    const forger = published(1)

    const forged = { ...body, deviceList: forger.body.deviceList }

    assert.throws(() => verifyAccount(forged), UntrustedKeyError)
  })

  test('a list whose published version differs from the signed one is refused', () => {
    const { body } = published(1, 3)

    const replayed = { ...body, deviceList: { ...body.deviceList, version: 4 } }

    assert.throws(() => verifyAccount(replayed), UntrustedKeyError)
  })

  test('a device the relay added, not on the signed list, is left out', () => {
    const { body } = published(1)
    const stranger = published(1).body.devices[0]

    const verified = verifyAccount({ ...body, devices: [...body.devices, stranger] })

    assert.deepEqual(
      verified.devices.map((device) => device.deviceId),
      [body.devices[0].deviceId],
    )
  })

  test('a listed device whose key the account did not sign is left out', () => {
    const { body } = published(2)
    const [first, second] = body.devices
    const badSignature = { ...second, identityKeySignature: first.identityKeySignature }

    const verified = verifyAccount({ ...body, devices: [first, badSignature] })

    assert.deepEqual(
      verified.devices.map((device) => device.deviceId),
      [first.deviceId],
    )
  })
})
