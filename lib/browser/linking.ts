/**
 * Linking a new device to an account, through the relay but without the
 * relay learning anything that would let it join.
 *
 * The code the existing device shows is `<link id>.<secret>`: the relay
 * knows the id (it is the rendezvous), never the 16-byte secret.
 * 1. The new device makes its keys and an ephemeral X25519 key, and posts
 *    them with a proof: an HMAC over both under a key derived from the
 *    secret. Only someone who read the code can make it.
 * 2. The existing device checks the proof, signs the new identity key with
 *    the account key, publishes a device list one version up, and seals the
 *    account secrets (a `device-link` content) for the new device: the key
 *    comes from X25519 between the two ephemeral keys, with the secret as
 *    HKDF salt, so the relay, which sees both public keys, cannot open it.
 * 3. The new device opens it, and logs in as a device of the account.
 */
import { ed25519 } from '@noble/curves/ed25519.js'

import {
  concatBytes,
  fromBase64,
  fromBase64Url,
  toBase64,
  toBase64Url,
  utf8Bytes,
} from '@/lib/core/bytes'
import { decodeContent, encodeContent } from '@/lib/core/content'
import { UntrustedKeyError } from '@/lib/core/crypto/errors'
import type { DeviceKeys, PrekeyUpload } from '@/lib/core/crypto/keys'
import { signDeviceKey, signDeviceList } from '@/lib/core/crypto/keys'
import {
  dh,
  equalBytes,
  generateDhKeyPair,
  kdf,
  mac,
  open,
  randomBytes,
  seal,
  type KeyPair,
} from '@/lib/core/crypto/primitives'

import type { LinkRequest } from '@/lib/core/api'

import type { RelayClient } from './relay-client'
import type { VerifiedAccount } from './trust'
import { newDeviceKeys } from './wire-format'

const PROOF_INFO = utf8Bytes('tidings/link/proof/v1')
const SEAL_INFO = utf8Bytes('tidings/link/seal/v1')
const SECRET_BYTES = 16

/** A link code, split into what the relay may see and what it may not. */
export interface LinkCode {
  linkId: string
  secret: Uint8Array
}

/** The text a person reads off one device and types on the other. */
export function formatLinkCode(code: LinkCode): string {
  return `${code.linkId}.${toBase64Url(code.secret)}`
}

/**
 * Reads a typed or scanned code (with or without the QR code's prefix).
 * @throws {RangeError} when it is not a link code
 */
export function parseLinkCode(text: string): LinkCode {
  const match = text
    .trim()
    .replace(/^tidings-link:/, '')
    .match(/^([A-Za-z0-9_-]{12})\.([A-Za-z0-9_-]{22})$/)
  if (!match?.[1] || !match[2]) throw new RangeError('parseLinkCode: not a link code')
  const secret = fromBase64Url(match[2])
  if (secret.length !== SECRET_BYTES)
    throw new RangeError('parseLinkCode: not a link code')
  return { linkId: match[1], secret }
}

/** A fresh code for a link the relay opened. */
export function newLinkCode(linkId: string): LinkCode {
  return { linkId, secret: randomBytes(SECRET_BYTES) }
}

/**
 * The proof that the new device read the code: an HMAC over its two public
 * keys and the name it shows, so the relay can change none of them.
 */
export function linkProof(
  secret: Uint8Array,
  request: { identityKey: Uint8Array; ephemeralKey: Uint8Array; name: string },
) {
  const key = kdf(secret, new Uint8Array(32), PROOF_INFO, 32)
  return mac(
    key,
    concatBytes(request.identityKey, request.ephemeralKey, utf8Bytes(request.name)),
  )
}

/**
 * The request a new device posts to join an account: its public keys, an
 * ephemeral key for the sealed answer, and the proof that it read the code.
 */
export function linkRequest(options: {
  code: LinkCode
  keys: DeviceKeys
  upload: PrekeyUpload
  ephemeral: KeyPair
  name: string
}): LinkRequest {
  const { code, keys, upload, ephemeral, name } = options
  const proof = linkProof(code.secret, {
    identityKey: keys.identity.publicKey,
    ephemeralKey: ephemeral.publicKey,
    name,
  })
  return {
    name,
    ephemeralKey: toBase64(ephemeral.publicKey),
    proof: toBase64(proof),
    ...newDeviceKeys(keys, upload),
  }
}

/**
 * Checks that a link request was made by someone who read our code.
 * @throws {UntrustedKeyError} when its proof does not match
 */
export function checkLinkRequest(
  code: LinkCode,
  request: { name: string; identityKey: string; ephemeralKey: string; proof: string },
): void {
  const expected = linkProof(code.secret, {
    identityKey: fromBase64(request.identityKey),
    ephemeralKey: fromBase64(request.ephemeralKey),
    name: request.name,
  })
  if (!equalBytes(expected, fromBase64(request.proof))) {
    throw new UntrustedKeyError(
      'approveLink: the request does not prove it read the code',
    )
  }
}

/** Key and nonce sealing the link payload (used once: both ephemeral keys are fresh). */
async function sealingKey(
  secret: Uint8Array,
  ours: KeyPair,
  theirEphemeralKey: Uint8Array,
) {
  const shared = await dh(ours.secretKey, theirEphemeralKey)
  const okm = kdf(shared, secret, SEAL_INFO, 56)
  shared.fill(0)
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32) }
}

/**
 * The existing device's side: checks the request's proof and approves it.
 * @param own - our account as verified just now (its current list)
 * @returns the new device's id and name
 * @throws {UntrustedKeyError} when the proof does not match the code
 */
export async function approveLinkRequest(options: {
  relay: RelayClient
  code: LinkCode
  account: KeyPair
  username: string
  own: VerifiedAccount
  request: { name: string; identityKey: string; ephemeralKey: string; proof: string }
}) {
  const { relay, code, account, username, own, request } = options
  checkLinkRequest(code, request)
  const identityKey = fromBase64(request.identityKey)
  const theirEphemeral = fromBase64(request.ephemeralKey)

  const version = own.deviceListVersion + 1
  const list = signDeviceList(account, version, [
    ...own.devices.map((device) => device.identityKey),
    identityKey,
  ])
  const ephemeral = await generateDhKeyPair()
  const { key, nonce } = await sealingKey(code.secret, ephemeral, theirEphemeral)
  const payload = encodeContent({
    kind: 'device-link',
    accountSecretKey: toBase64(account.secretKey),
    username,
    deviceListVersion: version,
  })
  const sealed = seal(key, nonce, payload, concatBytes(identityKey, ephemeral.publicKey))

  return relay.approveLink(code.linkId, {
    identityKeySignature: toBase64(signDeviceKey(account, identityKey)),
    deviceList: { bytes: toBase64(list.bytes), signature: toBase64(list.signature) },
    ephemeralKey: toBase64(ephemeral.publicKey),
    sealed: toBase64(sealed),
  })
}

/**
 * The new device's side, after the approval: opens the sealed payload.
 * @returns the account key pair and username
 * @throws {DecryptError} when the payload was not sealed for this device
 */
export async function openLinkPayload(options: {
  code: LinkCode
  ephemeral: KeyPair
  keys: DeviceKeys
  result: { username: string; ephemeralKey: string; sealed: string }
}) {
  const { code, ephemeral, keys, result } = options
  const theirEphemeral = fromBase64(result.ephemeralKey)
  const { key, nonce } = await sealingKey(code.secret, ephemeral, theirEphemeral)
  const payload = open(
    key,
    nonce,
    fromBase64(result.sealed),
    concatBytes(keys.identity.publicKey, theirEphemeral),
    'openLinkPayload',
  )
  const content = decodeContent(payload)
  if (content.kind !== 'device-link' || content.username !== result.username) {
    throw new UntrustedKeyError('openLinkPayload: not a link payload for this account')
  }
  const secretKey = fromBase64(content.accountSecretKey)
  const account: KeyPair = {
    secretKey,
    publicKey: new Uint8Array(ed25519.getPublicKey(secretKey)),
  }
  return {
    account,
    username: content.username,
    deviceListVersion: content.deviceListVersion,
  }
}
