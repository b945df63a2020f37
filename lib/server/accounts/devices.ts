import 'server-only'

import { randomBytes } from 'node:crypto'

import type { linkApproval, linkRequest, unlinkRequest } from '@/lib/core/api'
import { concatBytes, fromBase64, toBase64, type Bytes } from '@/lib/core/bytes'
import { deviceIdFromIdentityKey } from '@/lib/core/device-id'
import { MAX_DEVICES_PER_ACCOUNT } from '@/lib/core/limits'
import type { z } from 'zod'

import { storeProvider, withDb } from '../db/client'
import { isDuplicate } from '../db/errors'
import type { Prisma } from '../db/generated/sqlite/client'
import { ApiError } from '../http/api-error'
import { checkSignatures, oneTimeRows } from '../keys/prekeys'
import { verifyDeviceKey, verifyDeviceList } from '../keys/verify'
import { logger, redactId } from '../log'
import type { DeviceIdentity } from '../auth/credentials'
import { deliveryHub } from '../relay/hub'

const log = logger('devices')

/** A link code works this long (and once). */
export const LINK_TTL_MS = 5 * 60 * 1000

/** Open links one account may hold at once. */
const MAX_OPEN_LINKS = 3

type LinkRequestBody = z.output<typeof linkRequest>

/**
 * Opens a link for the caller's account: a rendezvous id the new device
 * will use. The code the user sees adds a secret the relay never learns.
 * @throws {ApiError} rate-limited when too many links are open
 */
export async function openLink(device: DeviceIdentity) {
  const now = new Date()
  const id = randomBytes(9).toString('base64url')
  const expiresAt = new Date(now.getTime() + LINK_TTL_MS)
  // Count and create under the account's row lock, so two requests at
  // once cannot both see room for one more.
  await withDb((db) =>
    db.$transaction(async (tx) => {
      await lockAccount(tx, device.accountId)
      const open = await tx.link.count({
        where: { accountId: device.accountId, expiresAt: { gt: now } },
      })
      if (open >= MAX_OPEN_LINKS) {
        throw new ApiError(
          'rate-limited',
          'link: too many link codes open; wait for one to expire',
        )
      }
      await tx.link.create({ data: { id, accountId: device.accountId, expiresAt } })
    }),
  )
  log.info({ device: redactId(device.deviceId) }, 'link opened')
  return { linkId: id, expiresAt: expiresAt.getTime() }
}

/**
 * Records a new device's request on an open link, once.
 * @throws {ApiError} not-found for an unknown or expired link; conflict when
 *   the link was already asked for, or the device exists; forbidden when the
 *   account is full
 */
export async function requestLink(linkId: string, body: LinkRequestBody): Promise<void> {
  checkSignatures(body, body.identityKey)
  const link = await openLinkById(linkId)
  const deviceId = deviceIdFromIdentityKey(body.identityKey)
  const [devices, existing] = await withDb(async (db) => [
    await db.device.count({ where: { accountId: link.accountId } }),
    await db.device.findUnique({ where: { id: deviceId }, select: { id: true } }),
  ])
  if (devices >= MAX_DEVICES_PER_ACCOUNT) {
    throw new ApiError(
      'forbidden',
      `link: the account has ${MAX_DEVICES_PER_ACCOUNT} devices already`,
    )
  }
  if (existing) throw new ApiError('conflict', 'link: this device is registered already')

  const stored = JSON.stringify({
    name: body.name,
    identityKey: toBase64(body.identityKey),
    ephemeralKey: toBase64(body.ephemeralKey),
    proof: toBase64(body.proof),
    signedPrekey: signedToJson(body.signedPrekey),
    lastResortKemPrekey: signedToJson(body.lastResortKemPrekey),
    oneTimePrekeys: body.oneTimePrekeys.map((key) => ({
      keyId: key.keyId,
      publicKey: toBase64(key.publicKey),
    })),
    oneTimeKemPrekeys: body.oneTimeKemPrekeys.map(signedToJson),
  })
  // Only the first request takes the link: the update matches an empty one.
  const { count } = await withDb((db) =>
    db.link.updateMany({
      where: { id: linkId, request: null, expiresAt: { gt: new Date() } },
      data: { request: stored },
    }),
  )
  if (count === 0) throw new ApiError('conflict', 'link: this code was used already')
}

/** The link as its account's devices see it: the request, once there is one. */
export async function readLink(device: DeviceIdentity, linkId: string) {
  const link = await ownLink(device, linkId)
  return {
    expiresAt: link.expiresAt.getTime(),
    request: link.request ? (JSON.parse(link.request) as unknown) : null,
    approved: link.sealed !== null,
  }
}

/**
 * Approves the request on a link: adds the device to the account with a new
 * signed device list (one version up, the current devices plus the new one)
 * and keeps the payload sealed for the new device.
 * @throws {ApiError} invalid-request naming a bad signature or list; conflict
 *   when the list changed meanwhile or the link was approved already
 */
export async function approveLink(
  device: DeviceIdentity,
  linkId: string,
  body: z.output<typeof linkApproval>,
) {
  const link = await ownLink(device, linkId)
  if (link.expiresAt.getTime() <= Date.now()) {
    throw new ApiError('not-found', 'link: this code has expired')
  }
  if (!link.request) throw new ApiError('conflict', 'link: no device has asked yet')
  if (link.sealed) throw new ApiError('conflict', 'link: approved already')
  const request = JSON.parse(link.request) as StoredRequest
  const newKey = fromBase64(request.identityKey)
  const newId = deviceIdFromIdentityKey(newKey)

  const account = await accountOf(device.accountId)
  verifyDeviceKey(
    body.identityKeySignature,
    newKey,
    account.identityKey,
    'identityKeySignature',
  )
  const version = checkNewList(account, body.deviceList, [
    ...account.devices.map((d) => d.id),
    newId,
  ])

  const approve = withDb((db) =>
    db.$transaction(async (tx) => {
      await replaceList(tx, account, body.deviceList, version)
      const taken = await tx.device.findUnique({
        where: { id: newId },
        select: { id: true },
      })
      if (taken) throw new ApiError('conflict', 'link: this device is registered already')
      await tx.device.create({
        data: {
          id: newId,
          accountId: account.id,
          name: request.name,
          identityKey: newKey,
          identityKeySig: body.identityKeySignature,
          signedPrekeyId: request.signedPrekey.keyId,
          signedPrekey: fromBase64(request.signedPrekey.publicKey),
          signedPrekeySig: fromBase64(request.signedPrekey.signature),
          lastResortKemId: request.lastResortKemPrekey.keyId,
          lastResortKem: fromBase64(request.lastResortKemPrekey.publicKey),
          lastResortKemSig: fromBase64(request.lastResortKemPrekey.signature),
        },
      })
      await tx.oneTimePrekey.createMany({
        data: oneTimeRows(newId, {
          oneTimePrekeys: request.oneTimePrekeys.map((key) => ({
            keyId: key.keyId,
            publicKey: fromBase64(key.publicKey),
          })),
          oneTimeKemPrekeys: request.oneTimeKemPrekeys.map(signedFromJson),
        }),
      })
      // The new device may be backing off just as the code expires: it
      // gets a few more minutes to collect the answer. A link swept or
      // approved meanwhile undoes the whole approval.
      const { count } = await tx.link.updateMany({
        where: { id: link.id, sealed: null },
        data: {
          sealed: concatBytes(body.ephemeralKey, body.sealed),
          expiresAt: new Date(Date.now() + LINK_TTL_MS),
        },
      })
      if (count === 0) throw new ApiError('conflict', 'link: approved already or expired')
    }),
  )
  try {
    await approve
  } catch (error) {
    // Registered through another account in the moment since the check.
    if (isDuplicate(error)) {
      throw new ApiError('conflict', 'link: this device is registered already')
    }
    throw error
  }
  log.info(
    { device: redactId(device.deviceId), linked: redactId(newId), version },
    'device linked',
  )
  return { deviceId: newId, deviceListVersion: version }
}

/**
 * What the new device collects once approved: the approving device's
 * ephemeral key and the sealed payload, and the account's username.
 * @throws {ApiError} not-found for an unknown or expired link
 */
export async function linkResult(linkId: string) {
  const link = await withDb((db) =>
    db.link.findUnique({
      where: { id: linkId },
      include: { account: { select: { username: true } } },
    }),
  )
  if (!link || link.expiresAt.getTime() <= Date.now()) {
    throw new ApiError('not-found', 'link: unknown or expired code')
  }
  if (!link.sealed) return { approved: false as const }
  return {
    approved: true as const,
    username: link.account.username,
    ephemeralKey: toBase64(link.sealed.subarray(0, 32)),
    sealed: toBase64(link.sealed.subarray(32)),
  }
}

/**
 * Removes a device from the caller's account (itself or another) with the
 * new signed list without it: its queue, prekeys and credentials go with it,
 * and its open streams close.
 * @throws {ApiError} not-found when the device is not on the account;
 *   invalid-request naming a bad list
 */
export async function unlinkDevice(
  device: DeviceIdentity,
  targetId: string,
  body: z.output<typeof unlinkRequest>,
) {
  const account = await accountOf(device.accountId)
  if (!account.devices.some((d) => d.id === targetId)) {
    throw new ApiError('not-found', 'deviceId: no such device on this account')
  }
  const remaining = account.devices.map((d) => d.id).filter((id) => id !== targetId)
  const version = checkNewList(account, body.deviceList, remaining)

  await withDb((db) =>
    db.$transaction(async (tx) => {
      await replaceList(tx, account, body.deviceList, version)
      await tx.device.delete({ where: { id: targetId } })
    }),
  )
  await deliveryHub().removed(targetId)
  log.info(
    { device: redactId(device.deviceId), unlinked: redactId(targetId), version },
    'device unlinked',
  )
  return { deviceListVersion: version }
}

interface StoredRequest {
  name: string
  identityKey: string
  signedPrekey: SignedJson
  lastResortKemPrekey: SignedJson
  oneTimePrekeys: { keyId: number; publicKey: string }[]
  oneTimeKemPrekeys: SignedJson[]
}
type SignedJson = { keyId: number; publicKey: string; signature: string }

function signedToJson(key: {
  keyId: number
  publicKey: Uint8Array
  signature: Uint8Array
}) {
  return {
    keyId: key.keyId,
    publicKey: toBase64(key.publicKey),
    signature: toBase64(key.signature),
  }
}

function signedFromJson(key: SignedJson) {
  return {
    keyId: key.keyId,
    publicKey: fromBase64(key.publicKey),
    signature: fromBase64(key.signature),
  }
}

async function openLinkById(linkId: string) {
  const link = await withDb((db) => db.link.findUnique({ where: { id: linkId } }))
  if (!link || link.expiresAt.getTime() <= Date.now()) {
    throw new ApiError('not-found', 'link: unknown or expired code')
  }
  return link
}

async function ownLink(device: DeviceIdentity, linkId: string) {
  const link = await withDb((db) => db.link.findUnique({ where: { id: linkId } }))
  if (!link || link.accountId !== device.accountId) {
    throw new ApiError('not-found', 'link: no such link on this account')
  }
  return link
}

async function accountOf(accountId: string) {
  const account = await withDb((db) =>
    db.account.findUnique({
      where: { id: accountId },
      include: { devices: { select: { id: true } } },
    }),
  )
  if (!account) throw new ApiError('not-found', 'account: gone')
  return account
}

/**
 * Checks a new device list: signed by the account key, one version up at
 * least, and naming exactly the devices expected.
 * @returns its version
 */
function checkNewList(
  account: { identityKey: Uint8Array; deviceListVersion: number },
  list: { bytes: Uint8Array; signature: Uint8Array },
  expectedIds: string[],
): number {
  const decoded = verifyDeviceList(list, account.identityKey)
  if (decoded.version <= account.deviceListVersion) {
    throw new ApiError(
      'invalid-request',
      `body.deviceList.bytes: version must be above ${account.deviceListVersion}`,
      { field: 'deviceList.bytes' },
    )
  }
  const listed = new Set(decoded.identityKeys.map(deviceIdFromIdentityKey))
  if (listed.size !== expectedIds.length || !expectedIds.every((id) => listed.has(id))) {
    throw new ApiError(
      'invalid-request',
      'body.deviceList.bytes: must name exactly the account devices after the change',
      { field: 'deviceList.bytes' },
    )
  }
  return decoded.version
}

/** Stores the new list if the version is still the one checked (no lost update). */
async function replaceList(
  tx: Prisma.TransactionClient,
  account: { id: string; deviceListVersion: number },
  list: { bytes: Bytes; signature: Bytes },
  version: number,
) {
  const { count } = await tx.account.updateMany({
    where: { id: account.id, deviceListVersion: account.deviceListVersion },
    data: {
      deviceList: list.bytes,
      deviceListSig: list.signature,
      deviceListVersion: version,
    },
  })
  if (count === 0) {
    throw new ApiError(
      'conflict',
      'deviceList: the device list changed meanwhile; try again',
    )
  }
}

/**
 * Holds the account's row until the transaction ends: PostgreSQL runs
 * transactions side by side, SQLite one at a time (nothing to lock).
 */
async function lockAccount(tx: Prisma.TransactionClient, accountId: string) {
  if (storeProvider() !== 'postgresql') return
  await tx.$queryRaw`SELECT "id" FROM "Account" WHERE "id" = ${accountId} FOR UPDATE`
}
