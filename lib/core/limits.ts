/**
 * Protocol limits shared by clients and the server.
 * Where a figure comes from another messenger, the comment says which.
 */

/** Devices one account may link (Signal's figure). */
export const MAX_DEVICES_PER_ACCOUNT = 6

/** Largest opaque envelope the relay accepts, in bytes (Signal's cap). */
export const MAX_ENVELOPE_BYTES = 96 * 1024

/** Envelopes in one send: every device of the recipient and every other own device. */
export const MAX_ENVELOPES_PER_SEND = 2 * MAX_DEVICES_PER_ACCOUNT

/** An undelivered envelope is deleted after this long (WhatsApp's and Signal's 30 days). */
export const ENVELOPE_TTL_MS = 30 * 24 * 60 * 60 * 1000

/** One-time prekeys in one upload (Signal's figure). */
export const MAX_PREKEYS_PER_UPLOAD = 100

/** Below this many one-time prekeys, the owner is asked to upload more (Signal's figure). */
export const PREKEY_LOW_WATERMARK = 10

/** Sequence numbers a device may acknowledge in one request. */
export const MAX_ACKS_PER_REQUEST = 1000

/** Usernames: 3 to 32 of a-z, 0-9 and "_", compared case-insensitively. */
export const USERNAME_PATTERN = /^[a-z0-9_]{3,32}$/

/** Lengths of public key material, in bytes. */
export const KEY_BYTES = {
  ed25519: 32,
  x25519: 32,
  mlkem768: 1184,
  signature: 64,
} as const
