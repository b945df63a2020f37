import 'server-only'

import { toBase64 } from '@/lib/core/bytes'

import { withDb } from '../db/client'
import { ApiError } from '../http/api-error'

/**
 * An account's public face: identity key, signed device list and each
 * device's identity key with the account's signature over it. Device names
 * are shown only to the account's own devices.
 * @throws {ApiError} not-found for an unknown username
 */
export async function lookupAccount(username: string, askingAccountId: string) {
  const account = await withDb((db) =>
    db.account.findUnique({
      where: { username },
      include: { devices: { orderBy: { createdAt: 'asc' } } },
    }),
  )
  if (!account)
    throw new ApiError('not-found', `username: no account named "${username}"`)

  const own = account.id === askingAccountId
  return {
    username: account.username,
    identityKey: toBase64(account.identityKey),
    deviceList: {
      bytes: toBase64(account.deviceList),
      signature: toBase64(account.deviceListSig),
      version: account.deviceListVersion,
    },
    devices: account.devices.map((device) => ({
      deviceId: device.id,
      identityKey: toBase64(device.identityKey),
      identityKeySignature: toBase64(device.identityKeySig),
      ...(own && { name: device.name, lastSeenAt: device.lastSeenAt.getTime() }),
    })),
  }
}

/**
 * The username of the account a device belongs to, so a client that gets a
 * first message from an unknown device knows whose signed device list to
 * fetch and check. The client trusts this answer only once that list,
 * signed by the account key, names the device.
 * @throws {ApiError} not-found for an unknown device
 */
export async function deviceOwner(deviceId: string): Promise<{ username: string }> {
  const device = await withDb((db) =>
    db.device.findUnique({
      where: { id: deviceId },
      select: { account: { select: { username: true } } },
    }),
  )
  if (!device) throw new ApiError('not-found', 'deviceId: no such device')
  return { username: device.account.username }
}
