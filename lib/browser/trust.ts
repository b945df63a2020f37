/**
 * Checking what the relay says about an account before encrypting to it.
 * The relay could add a device of its own to someone's account; the account
 * key's signatures stop that: a device is encrypted to only when the signed
 * device list names its identity key and the account key signed that key.
 */
import { fromBase64, type Bytes } from '@/lib/core/bytes'
import { decodeDeviceList } from '@/lib/core/device-list'
import { deviceIdFromIdentityKey } from '@/lib/core/device-id'
import { UntrustedKeyError } from '@/lib/core/crypto/errors'
import { equalBytes, verify } from '@/lib/core/crypto/primitives'
import { deviceKeyStatement, deviceListStatement } from '@/lib/core/statements'

import type { PublishedAccount } from './relay-client'

/** An account whose device list and device keys verified. */
export interface VerifiedAccount {
  username: string
  identityKey: Bytes
  deviceListVersion: number
  devices: {
    deviceId: string
    identityKey: Bytes
    name?: string
    lastSeenAt?: number
  }[]
}

/**
 * Verifies an account as published by the relay.
 * @returns the account with only the devices its signed list names
 * @throws {UntrustedKeyError} when the device list's signature does not
 *   verify under the account key, or its version is not what was published
 */
export function verifyAccount(published: PublishedAccount): VerifiedAccount {
  const identityKey = fromBase64(published.identityKey)
  const listBytes = fromBase64(published.deviceList.bytes)
  const listSignature = fromBase64(published.deviceList.signature)
  if (!verify(listSignature, deviceListStatement(listBytes), identityKey)) {
    throw new UntrustedKeyError(
      `verifyAccount: the device list of ${published.username} is not signed by its account key`,
    )
  }

  const list = decodeDeviceList(listBytes)
  if (list.version !== published.deviceList.version) {
    throw new UntrustedKeyError('verifyAccount: device list version does not match')
  }

  const devices: VerifiedAccount['devices'] = []
  for (const device of published.devices) {
    const deviceKey = fromBase64(device.identityKey)
    const signature = fromBase64(device.identityKeySignature)
    const listed = list.identityKeys.some((key) => equalBytes(key, deviceKey))
    const signed = verify(signature, deviceKeyStatement(deviceKey), identityKey)
    // A device the list does not name, or whose key the account did not
    // sign, is left out: it never gets a message from us.
    if (!listed || !signed || deviceIdFromIdentityKey(deviceKey) !== device.deviceId) {
      continue
    }
    devices.push({
      deviceId: device.deviceId,
      identityKey: deviceKey,
      ...(device.name !== undefined && { name: device.name }),
      ...(device.lastSeenAt !== undefined && { lastSeenAt: device.lastSeenAt }),
    })
  }

  return {
    username: published.username,
    identityKey,
    deviceListVersion: list.version,
    devices,
  }
}
