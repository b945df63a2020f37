import 'server-only'

import { toBase64, type Bytes } from '@/lib/core/bytes'
import { PREKEY_LOW_WATERMARK } from '@/lib/core/limits'

import { deviceRemoved } from '../auth/credentials'
import { storeProvider, withDb } from '../db/client'
import { isDuplicate, isGone } from '../db/errors'
import { relayStore } from '../db/relay-store'
import { Prisma } from '../db/generated/sqlite/client'
import { ApiError } from '../http/api-error'
import { deliveryHub } from '../relay/hub'
import { verifySignedPrekey } from './verify'

type SignedKey = { keyId: number; publicKey: Bytes; signature: Bytes }
type Upload = {
  signedPrekey?: SignedKey
  lastResortKemPrekey?: SignedKey
  oneTimePrekeys?: { keyId: number; publicKey: Bytes }[]
  oneTimeKemPrekeys?: SignedKey[]
}

/** How many one-time prekeys of each kind a device has left. */
export async function prekeyStock(deviceId: string) {
  // Read at every stream opening: on the relay's prepared statements.
  const { ec, kem } = await relayStore().prekeyCounts(deviceId)
  const counts = { oneTimePrekeys: ec, oneTimeKemPrekeys: kem }
  const low =
    counts.oneTimePrekeys < PREKEY_LOW_WATERMARK ||
    counts.oneTimeKemPrekeys < PREKEY_LOW_WATERMARK
  return { counts, low }
}

/**
 * Publishes a device's new prekeys. Every signature is checked against the
 * device identity key before anything is written; all is written at once.
 * @throws {ApiError} invalid-request on a bad signature or a reused key id
 */
export async function uploadPrekeys(deviceId: string, upload: Upload) {
  const device = await withDb((db) =>
    db.device.findUnique({
      where: { id: deviceId },
      select: { identityKey: true },
    }),
  )
  if (!device) throw deviceRemoved()
  checkSignatures(upload, device.identityKey)

  try {
    await withDb((db) =>
      db.$transaction(async (tx) => {
        const { signedPrekey: spk, lastResortKemPrekey: kem } = upload
        if (spk || kem) {
          await tx.device.update({
            where: { id: deviceId },
            data: {
              ...(spk && {
                signedPrekeyId: spk.keyId,
                signedPrekey: spk.publicKey,
                signedPrekeySig: spk.signature,
              }),
              ...(kem && {
                lastResortKemId: kem.keyId,
                lastResortKem: kem.publicKey,
                lastResortKemSig: kem.signature,
              }),
            },
          })
        }
        await tx.oneTimePrekey.createMany({ data: oneTimeRows(deviceId, upload) })
      }),
    )
  } catch (error) {
    if (isDuplicate(error)) {
      throw new ApiError('conflict', 'body: a one-time prekey id is already published')
    }
    if (isGone(error)) throw deviceRemoved()
    throw error
  }
  return (await prekeyStock(deviceId)).counts
}

/** Checks every signature in an upload. @throws {ApiError} */
export function checkSignatures(upload: Upload, identityKey: Uint8Array): void {
  if (upload.signedPrekey) {
    verifySignedPrekey('x25519', upload.signedPrekey, identityKey, 'signedPrekey')
  }
  if (upload.lastResortKemPrekey) {
    verifySignedPrekey(
      'mlkem768',
      upload.lastResortKemPrekey,
      identityKey,
      'lastResortKemPrekey',
    )
  }
  upload.oneTimeKemPrekeys?.forEach((key, index) =>
    verifySignedPrekey('mlkem768', key, identityKey, `oneTimeKemPrekeys.${index}`),
  )
  const ids = (keys?: { keyId: number }[]) => new Set(keys?.map((key) => key.keyId)).size
  if (
    ids(upload.oneTimePrekeys) !== (upload.oneTimePrekeys?.length ?? 0) ||
    ids(upload.oneTimeKemPrekeys) !== (upload.oneTimeKemPrekeys?.length ?? 0)
  ) {
    throw new ApiError('invalid-request', 'body: one-time prekey ids repeat')
  }
}

/** Rows for the one-time prekeys of an upload. */
export function oneTimeRows(deviceId: string, upload: Upload) {
  return [
    ...(upload.oneTimePrekeys ?? []).map((key) => ({
      deviceId,
      kind: 'ec',
      keyId: key.keyId,
      publicKey: key.publicKey,
    })),
    ...(upload.oneTimeKemPrekeys ?? []).map((key) => ({
      deviceId,
      kind: 'kem',
      keyId: key.keyId,
      publicKey: key.publicKey,
      signature: key.signature,
    })),
  ]
}

interface ClaimedKey {
  keyId: number
  publicKey: Uint8Array
  signature: Uint8Array | null
}

/**
 * Removes and returns the oldest one-time prekey of a kind. One statement,
 * so two concurrent fetches never get the same key. On PostgreSQL a key
 * another fetch is taking is skipped rather than waited for: waiting would
 * find it gone and hand out none.
 */
async function claimOneTimeKey(deviceId: string, kind: 'ec' | 'kem') {
  const skipTaken =
    storeProvider() === 'postgresql' ? Prisma.sql`FOR UPDATE SKIP LOCKED` : Prisma.empty
  const rows = await withDb(
    (db) => db.$queryRaw<ClaimedKey[]>`
      DELETE FROM "OneTimePrekey"
      WHERE "id" = (
        SELECT "id" FROM "OneTimePrekey"
        WHERE "deviceId" = ${deviceId} AND "kind" = ${kind}
        ORDER BY "keyId" LIMIT 1 ${skipTaken})
      RETURNING "keyId", "publicKey", "signature"`,
  )
  return rows[0] ?? null
}

/** A device's prekey bundle as a contact fetches it to start a session. */
export interface PrekeyBundle {
  deviceId: string
  identityKey: string
  identityKeySignature: string
  signedPrekey: { keyId: number; publicKey: string; signature: string }
  /** A one-time ML-KEM prekey, or the last-resort one when none is left. */
  kemPrekey: { keyId: number; publicKey: string; signature: string; lastResort: boolean }
  oneTimePrekey: { keyId: number; publicKey: string } | null
}

/**
 * Fetches bundles for an account's devices (all, or those named), each
 * consuming one one-time X25519 and one one-time ML-KEM prekey.
 * @throws {ApiError} not-found for an unknown account or device
 */
export async function fetchBundles(username: string, only?: string[]) {
  const account = await withDb((db) =>
    db.account.findUnique({
      where: { username },
      include: { devices: { orderBy: { createdAt: 'asc' } } },
    }),
  )
  if (!account)
    throw new ApiError('not-found', `username: no account named "${username}"`)

  const devices = only
    ? account.devices.filter((device) => only.includes(device.id))
    : account.devices
  if (only && devices.length !== new Set(only).size) {
    throw new ApiError('not-found', 'query.devices: a device is not on this account', {
      field: 'devices',
    })
  }

  const bundles: PrekeyBundle[] = []
  for (const device of devices) {
    const ec = await claimOneTimeKey(device.id, 'ec')
    const kem = await claimOneTimeKey(device.id, 'kem')
    bundles.push({
      deviceId: device.id,
      identityKey: toBase64(device.identityKey),
      identityKeySignature: toBase64(device.identityKeySig),
      signedPrekey: {
        keyId: device.signedPrekeyId,
        publicKey: toBase64(device.signedPrekey),
        signature: toBase64(device.signedPrekeySig),
      },
      kemPrekey: kem?.signature
        ? {
            keyId: Number(kem.keyId),
            publicKey: toBase64(kem.publicKey),
            signature: toBase64(kem.signature),
            lastResort: false,
          }
        : {
            keyId: device.lastResortKemId,
            publicKey: toBase64(device.lastResortKem),
            signature: toBase64(device.lastResortKemSig),
            lastResort: true,
          },
      oneTimePrekey: ec
        ? { keyId: Number(ec.keyId), publicKey: toBase64(ec.publicKey) }
        : null,
    })
    void warnIfLow(device.id)
  }

  return {
    username: account.username,
    identityKey: toBase64(account.identityKey),
    deviceList: {
      bytes: toBase64(account.deviceList),
      signature: toBase64(account.deviceListSig),
      version: account.deviceListVersion,
    },
    bundles,
  }
}

async function warnIfLow(deviceId: string): Promise<void> {
  const stock = await prekeyStock(deviceId)
  if (stock.low)
    void deliveryHub().publish(deviceId, { kind: 'prekeys-low', ...stock.counts })
}
