import 'server-only'

import { randomBytes } from 'node:crypto'

import { sha256 } from '@noble/hashes/sha2.js'

import { toBase64Url, utf8Bytes, type Bytes } from '@/lib/core/bytes'
import { authStatement } from '@/lib/core/statements'
import { verify } from '@/lib/core/crypto/primitives'

import { withDb } from '../db/client'
import { isGone } from '../db/errors'
import { ApiError } from '../http/api-error'
import { logger, redactId } from '../log'

const log = logger('auth')

/** A login challenge must be answered within this time. */
const CHALLENGE_TTL_MS = 60 * 1000

/** A credential is good for a day; the client logs in again with its key. */
export const CREDENTIAL_TTL_MS = 24 * 60 * 60 * 1000

/** How long a verified credential is trusted from memory before re-reading it. */
const CACHE_TTL_MS = 30 * 1000

/** Credentials are stored only as this hash of the token. */
function tokenHash(token: string): Bytes {
  return new Uint8Array(sha256(utf8Bytes(token)))
}

/** Who a request comes from, once its credential checks out. */
export interface DeviceIdentity {
  deviceId: string
  accountId: string
  /** When the credential stops working (ms since the epoch). */
  expiresAt: number
}

interface CachedCredential extends DeviceIdentity {
  checkedAt: number
}

const CACHE = Symbol.for('tidings.credential-cache')
type Holder = typeof globalThis & { [CACHE]?: Map<string, CachedCredential> }

function cache(): Map<string, CachedCredential> {
  const holder = globalThis as Holder
  holder[CACHE] ??= new Map()
  return holder[CACHE]
}

/**
 * Starts a login: stores a random nonce the device must sign.
 * Answers the same way for unknown devices, so ids cannot be probed.
 */
export async function createChallenge(deviceId: string) {
  const id = toBase64Url(randomBytes(16))
  const nonce = new Uint8Array(randomBytes(32))
  const expiresAt = new Date(Date.now() + CHALLENGE_TTL_MS)

  await withDb((db) => db.challenge.create({ data: { id, deviceId, nonce, expiresAt } }))
  return { challengeId: id, nonce, expiresAt }
}

/**
 * Finishes a login: checks the device's signature over the challenge, then
 * issues a bearer token. The challenge is used up whatever the outcome.
 * @throws {ApiError} unauthorized when the challenge or signature is bad
 */
export async function redeemChallenge(challengeId: string, signature: Uint8Array) {
  // Whoever deletes the challenge owns it: a second redeem running
  // alongside (a retry, a replay) finds nothing to delete and is refused.
  const challenge = await withDb(async (db) => {
    const found = await db.challenge.findUnique({ where: { id: challengeId } })
    if (!found) return null
    const { count } = await db.challenge.deleteMany({ where: { id: challengeId } })
    return count === 1 ? found : null
  })
  if (!challenge || challenge.expiresAt.getTime() < Date.now()) {
    throw new ApiError('unauthorized', 'login: challenge unknown or expired')
  }

  const device = await withDb((db) =>
    db.device.findUnique({
      where: { id: challenge.deviceId },
      select: { id: true, accountId: true, identityKey: true },
    }),
  )
  const message = authStatement(challenge.deviceId, challenge.nonce)
  if (!device || !verify(signature, message, device.identityKey)) {
    log.warn({ device: redactId(challenge.deviceId) }, 'login refused: bad signature')
    throw new ApiError('unauthorized', 'login: signature does not verify')
  }

  const token = toBase64Url(randomBytes(32))
  const expiresAt = new Date(Date.now() + CREDENTIAL_TTL_MS)
  try {
    await withDb((db) =>
      db.credential.create({
        data: { tokenHash: tokenHash(token), deviceId: device.id, expiresAt },
      }),
    )
  } catch (error) {
    if (isGone(error)) throw deviceRemoved()
    throw error
  }
  log.info({ device: redactId(device.id) }, 'device logged in')
  return { token, expiresAt }
}

/**
 * Resolves an `Authorization: Bearer …` header to the device it belongs to.
 * @throws {ApiError} unauthorized when missing, unknown or expired
 */
export async function authenticate(header: string | null): Promise<DeviceIdentity> {
  const match = header?.match(/^Bearer ([A-Za-z0-9_-]{43})$/)
  if (!match?.[1]) {
    throw new ApiError('unauthorized', 'expected an Authorization: Bearer credential')
  }
  const token = match[1]
  const now = Date.now()

  const cached = cache().get(token)
  if (cached && cached.expiresAt > now && now - cached.checkedAt < CACHE_TTL_MS) {
    const { deviceId, accountId, expiresAt } = cached
    return { deviceId, accountId, expiresAt }
  }

  const credential = await withDb((db) =>
    db.credential.findUnique({
      where: { tokenHash: tokenHash(token) },
      select: { expiresAt: true, device: { select: { id: true, accountId: true } } },
    }),
  )
  if (!credential || credential.expiresAt.getTime() <= now) {
    cache().delete(token)
    throw new ApiError('unauthorized', 'credential unknown or expired; log in again')
  }

  const identity = {
    deviceId: credential.device.id,
    accountId: credential.device.accountId,
    expiresAt: credential.expiresAt.getTime(),
  }
  cache().set(token, { ...identity, checkedAt: now })
  return identity
}

/** Forgets a removed device's cached credentials, so they stop working at once. */
export function forgetDevice(deviceId: string): void {
  for (const [token, entry] of cache()) {
    if (entry.deviceId === deviceId) cache().delete(token)
  }
}

/** Drops cached credentials that have expired or gone stale. */
export function sweepCredentialCache(now = Date.now()): void {
  for (const [token, entry] of cache()) {
    if (entry.expiresAt <= now || now - entry.checkedAt > CACHE_TTL_MS)
      cache().delete(token)
  }
}

/**
 * The answer for a request whose own device was unlinked while it ran:
 * its credential is no longer good.
 */
export function deviceRemoved(): ApiError {
  return new ApiError('unauthorized', 'this device has been unlinked; log in again')
}
