import 'server-only'

import { randomUUID } from 'node:crypto'

import { deviceIdFromIdentityKey } from '@/lib/core/device-id'
import type { registration } from '@/lib/core/api'
import type { z } from 'zod'

import { withDb } from '../db/client'
import { isDuplicate } from '../db/errors'
import { ApiError } from '../http/api-error'
import { checkSignatures, oneTimeRows } from '../keys/prekeys'
import { verifyDeviceKey, verifyDeviceList } from '../keys/verify'
import { logger, redactId } from '../log'

const log = logger('accounts')

/**
 * Creates an account with its first device. Every signature is checked
 * first: the account key vouches for the device key and signs a device list
 * naming exactly that device; the device key signs its prekeys.
 *
 * @returns the new account's and device's ids
 * @throws {ApiError} invalid-request on a bad signature or list, conflict
 *   when the username or device is taken
 */
export async function registerAccount(input: z.output<typeof registration>) {
  const { username, identityKey, deviceList, device } = input

  verifyDeviceKey(
    device.identityKeySignature,
    device.identityKey,
    identityKey,
    'device.identityKeySignature',
  )
  const list = verifyDeviceList(deviceList, identityKey)
  const deviceId = deviceIdFromIdentityKey(device.identityKey)
  if (
    list.identityKeys.length !== 1 ||
    deviceIdFromIdentityKey(list.identityKeys[0]) !== deviceId
  ) {
    throw new ApiError(
      'invalid-request',
      'body.deviceList.bytes: must list exactly this device',
      {
        field: 'deviceList.bytes',
      },
    )
  }
  checkSignatures(device, device.identityKey)

  const accountId = randomUUID()
  try {
    await withDb((db) =>
      db.$transaction(async (tx) => {
        await tx.account.create({
          data: {
            id: accountId,
            username,
            identityKey,
            deviceList: deviceList.bytes,
            deviceListSig: deviceList.signature,
            deviceListVersion: list.version,
          },
        })
        await tx.device.create({
          data: {
            id: deviceId,
            accountId,
            name: device.name,
            identityKey: device.identityKey,
            identityKeySig: device.identityKeySignature,
            signedPrekeyId: device.signedPrekey.keyId,
            signedPrekey: device.signedPrekey.publicKey,
            signedPrekeySig: device.signedPrekey.signature,
            lastResortKemId: device.lastResortKemPrekey.keyId,
            lastResortKem: device.lastResortKemPrekey.publicKey,
            lastResortKemSig: device.lastResortKemPrekey.signature,
          },
        })
        await tx.oneTimePrekey.createMany({ data: oneTimeRows(deviceId, device) })
      }),
    )
  } catch (error) {
    if (isDuplicate(error)) {
      // SQLite names the columns in meta; PostgreSQL the constraint in the message.
      const { meta, message } = error as { meta?: { target?: unknown }; message: string }
      const target = JSON.stringify(meta?.target ?? message)
      const what = target.includes('username')
        ? 'username is taken'
        : 'device already registered'
      throw new ApiError('conflict', `register: ${what}`, {
        field: target.includes('username') ? 'username' : 'device.identityKey',
      })
    }
    throw error
  }

  log.info(
    { account: redactId(accountId), device: redactId(deviceId) },
    'account registered',
  )
  return { accountId, deviceId }
}
