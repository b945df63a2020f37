/**
 * The JSON API between clients and the relay: request schemas (zod) that the
 * server validates with and the client types its requests by, plus the shapes
 * of the answers. Byte fields travel as standard padded base64.
 */
import { z } from 'zod'

import { fromBase64, fromBase64Url, type Bytes } from './bytes'
import { DEVICE_ID_PATTERN } from './device-id'
import {
  KEY_BYTES,
  MAX_ACKS_PER_REQUEST,
  MAX_ENVELOPE_BYTES,
  MAX_ENVELOPES_PER_SEND,
  MAX_PREKEYS_PER_UPLOAD,
  USERNAME_PATTERN,
} from './limits'

/**
 * Base64 text of bytes whose length is exact or within a range: standard
 * padded base64, or the unpadded URL alphabet that browsers use for push keys.
 */
function base64Bytes(
  size: number | { min: number; max: number },
  alphabet: 'base64' | 'base64url' = 'base64',
) {
  const min = typeof size === 'number' ? size : size.min
  const max = typeof size === 'number' ? size : size.max
  const expected = min === max ? `${min} bytes` : `${min} to ${max} bytes`

  return z
    .string()
    .max(Math.ceil(max / 3) * 4, `expected base64 of ${expected}, got a longer text`)
    .transform((text, ctx) => {
      let bytes: Bytes
      try {
        bytes = alphabet === 'base64' ? fromBase64(text) : fromBase64Url(text)
      } catch {
        const expected = alphabet === 'base64' ? 'standard padded base64' : 'base64url'
        ctx.addIssue({ code: 'custom', message: `expected ${expected}` })
        return z.NEVER
      }
      if (bytes.length < min || bytes.length > max) {
        ctx.addIssue({
          code: 'custom',
          message: `expected base64 of ${expected}, got ${bytes.length} bytes`,
        })
        return z.NEVER
      }
      return bytes
    })
}

const keyId = z.int().min(0).max(0xffffff)

/** Sequence numbers fit a signed 32-bit column on every store. */
export const MAX_SEQ = 2 ** 31 - 1

export const username = z
  .string()
  .transform((name) => name.toLowerCase())
  .pipe(z.string().regex(USERNAME_PATTERN, 'expected 3 to 32 of a-z, 0-9 and _'))

export const deviceId = z.string().regex(DEVICE_ID_PATTERN, 'expected a device id')

const signedPrekey = z.strictObject({
  keyId,
  publicKey: base64Bytes(KEY_BYTES.x25519),
  signature: base64Bytes(KEY_BYTES.signature),
})

const signedKemPrekey = z.strictObject({
  keyId,
  publicKey: base64Bytes(KEY_BYTES.mlkem768),
  signature: base64Bytes(KEY_BYTES.signature),
})

const oneTimePrekey = z.strictObject({
  keyId,
  publicKey: base64Bytes(KEY_BYTES.x25519),
})

const deviceListField = z.strictObject({
  bytes: base64Bytes({ min: 6, max: 6 + 6 * KEY_BYTES.ed25519 }),
  signature: base64Bytes(KEY_BYTES.signature),
})

/** POST /api/keys (PUT): what a device publishes or replenishes. */
export const keyUpload = z.strictObject({
  signedPrekey: signedPrekey.optional(),
  lastResortKemPrekey: signedKemPrekey.optional(),
  oneTimePrekeys: z.array(oneTimePrekey).max(MAX_PREKEYS_PER_UPLOAD).optional(),
  oneTimeKemPrekeys: z.array(signedKemPrekey).max(MAX_PREKEYS_PER_UPLOAD).optional(),
})
export type KeyUpload = z.input<typeof keyUpload>

/** POST /api/accounts: a new account with its first device. */
export const registration = z.strictObject({
  username,
  identityKey: base64Bytes(KEY_BYTES.ed25519),
  deviceList: deviceListField,
  device: z.strictObject({
    name: z.string().trim().min(1).max(64),
    identityKey: base64Bytes(KEY_BYTES.ed25519),
    identityKeySignature: base64Bytes(KEY_BYTES.signature),
    signedPrekey,
    lastResortKemPrekey: signedKemPrekey,
    oneTimePrekeys: z.array(oneTimePrekey).max(MAX_PREKEYS_PER_UPLOAD),
    oneTimeKemPrekeys: z.array(signedKemPrekey).max(MAX_PREKEYS_PER_UPLOAD),
  }),
})
export type Registration = z.input<typeof registration>

/** The new device's name, keys and prekeys, as it registers or links. */
const newDevice = {
  name: z.string().trim().min(1).max(64),
  identityKey: base64Bytes(KEY_BYTES.ed25519),
  signedPrekey,
  lastResortKemPrekey: signedKemPrekey,
  oneTimePrekeys: z.array(oneTimePrekey).max(MAX_PREKEYS_PER_UPLOAD),
  oneTimeKemPrekeys: z.array(signedKemPrekey).max(MAX_PREKEYS_PER_UPLOAD),
}

/**
 * POST /api/links/:id/request: a new device asks to join the account that
 * showed the link code. `proof` is an HMAC over its keys under a key from
 * the code's secret half, which the relay never sees; the existing device
 * checks it before approving.
 */
export const linkRequest = z.strictObject({
  ...newDevice,
  ephemeralKey: base64Bytes(KEY_BYTES.x25519),
  proof: base64Bytes(32),
})
export type LinkRequest = z.input<typeof linkRequest>

/**
 * POST /api/links/:id/approve: the existing device's answer: the account's
 * signature over the new device key, the new signed device list, and the
 * account secrets sealed for the new device's ephemeral key.
 */
export const linkApproval = z.strictObject({
  identityKeySignature: base64Bytes(KEY_BYTES.signature),
  deviceList: deviceListField,
  ephemeralKey: base64Bytes(KEY_BYTES.x25519),
  sealed: base64Bytes({ min: 1, max: 4096 }),
})

/** DELETE /api/devices/:deviceId: the device list without that device. */
export const unlinkRequest = z.strictObject({ deviceList: deviceListField })

/** POST /api/auth/challenge */
export const challengeRequest = z.strictObject({ deviceId })

/** POST /api/auth/token: the challenge signed with the device identity key. */
export const tokenRequest = z.strictObject({
  challengeId: z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'expected a challenge id'),
  signature: base64Bytes(KEY_BYTES.signature),
})

/** POST /api/messages: one message's envelopes, one per device. */
export const sendRequest = z.strictObject({
  to: username,
  /**
   * Whether the recipients should be woken for it (Web Push): true for a
   * message a person reads, false for receipts and syncs, which wait for the
   * device's next connection. Absent means true.
   */
  urgent: z.boolean().optional(),
  envelopes: z
    .array(
      z.strictObject({
        deviceId,
        content: base64Bytes({ min: 1, max: MAX_ENVELOPE_BYTES }),
      }),
    )
    .min(1)
    .max(MAX_ENVELOPES_PER_SEND),
})
export type SendRequest = z.input<typeof sendRequest>

/** POST /api/envelopes/ack: sequence numbers the device has stored. */
export const ackRequest = z.strictObject({
  seqs: z.array(z.int().min(1).max(MAX_SEQ)).min(1).max(MAX_ACKS_PER_REQUEST),
})

/**
 * PUT /api/push: the device's Web Push subscription, as the browser's
 * `PushSubscription.toJSON()` gives it.
 */
export const pushSubscriptionRequest = z.object({
  endpoint: z
    .url({ protocol: /^https$/, error: 'expected an https URL' })
    .max(2048, 'expected at most 2048 characters'),
  expirationTime: z.number().nullable().optional(),
  keys: z.strictObject({
    p256dh: base64Bytes(65, 'base64url').refine(
      (key) => key[0] === 0x04,
      'expected an uncompressed P-256 point',
    ),
    auth: base64Bytes(16, 'base64url'),
  }),
})
export type PushSubscriptionRequest = z.input<typeof pushSubscriptionRequest>

/** GET /api/envelopes query. */
export const queueQuery = z.strictObject({
  after: z.coerce.number().int().min(0).max(MAX_SEQ).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})

/** GET /api/accounts/:username/bundles query: limit to some devices (after a 409). */
export const bundleQuery = z.strictObject({
  devices: z
    .string()
    .transform((list) => list.split(','))
    .pipe(z.array(deviceId).min(1).max(6))
    .optional(),
})

/** An envelope as the stream and the queue endpoint deliver it. */
export interface WireEnvelope {
  /** Position in the recipient device's queue; acknowledge by it. */
  seq: number
  senderDeviceId: string
  /** Milliseconds since the epoch when the server accepted it. */
  serverTimestamp: number
  /** The opaque encrypted bytes, base64. */
  content: string
}

/** The 409 answer when a send's devices do not match the current lists. */
export interface DeviceMismatch {
  error: { code: 'device-mismatch'; message: string }
  missingDevices: string[]
  extraDevices: string[]
}

/** The answer to an accepted send: the single grey tick. */
export interface SendReceipt {
  serverTimestamp: number
  envelopes: { deviceId: string; seq: number; serverId: string }[]
}

/** Any error answer. */
export interface ApiErrorBody {
  error: { code: string; message: string; field?: string }
}
