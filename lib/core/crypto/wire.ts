/**
 * The binary wire format of encrypted messages (big-endian):
 *
 *   message:  version=1 | type=1 | ratchetKey(32) | previousCounter(u32)
 *             | counter(u32) | ciphertext
 *   prekey:   version=1 | type=2 | identityKey(32) | ephemeralKey(32)
 *             | signedPrekeyId(u32) | kemPrekeyId(u32) | oneTimePrekeyId(u32,
 *             0xffffffff = none) | kemCipherText(1088) | message
 *
 * The first 42 bytes of a message are its header; they are authenticated
 * together with the session's associated data.
 */
import type { Bytes } from '../bytes'
import { checkBytes } from './errors'
import { kem } from './primitives'
import type { RatchetHeader } from './ratchet'

export const WIRE_VERSION = 1
const TYPE_MESSAGE = 1
const TYPE_PREKEY = 2
const NO_ONE_TIME_KEY = 0xffffffff

/** Bytes of a message header. */
export const HEADER_BYTES = 2 + 32 + 4 + 4
const PREKEY_FIXED_BYTES = 2 + 32 + 32 + 12 + kem.cipherTextBytes

/** What the first message of a session carries so the recipient can agree on keys. */
export interface PrekeyHeader {
  /** The sender device's Ed25519 identity key. */
  identityKey: Bytes
  ephemeralKey: Bytes
  signedPrekeyId: number
  kemPrekeyId: number
  oneTimePrekeyId: number | null
  kemCipherText: Bytes
}

export type WireMessage =
  | { type: 'message'; header: RatchetHeader; headerBytes: Bytes; ciphertext: Bytes }
  | {
      type: 'prekey'
      prekey: PrekeyHeader
      header: RatchetHeader
      headerBytes: Bytes
      ciphertext: Bytes
    }

/** Encodes a ratchet header. */
export function encodeHeader(header: RatchetHeader): Bytes {
  checkBytes('ratchetKey', header.ratchetKey, 32)
  const out = new Uint8Array(HEADER_BYTES)
  const view = new DataView(out.buffer)
  out[0] = WIRE_VERSION
  out[1] = TYPE_MESSAGE
  out.set(header.ratchetKey, 2)
  view.setUint32(34, header.previousCounter)
  view.setUint32(38, header.counter)
  return out
}

/** A whole message: header bytes then ciphertext. */
export function encodeMessage(headerBytes: Uint8Array, ciphertext: Uint8Array): Bytes {
  const out = new Uint8Array(headerBytes.length + ciphertext.length)
  out.set(headerBytes)
  out.set(ciphertext, headerBytes.length)
  return out
}

/** Wraps a message in the prekey header of a session's first messages. */
export function encodePrekeyMessage(prekey: PrekeyHeader, message: Uint8Array): Bytes {
  checkBytes('identityKey', prekey.identityKey, 32)
  checkBytes('ephemeralKey', prekey.ephemeralKey, 32)
  checkBytes('kemCipherText', prekey.kemCipherText, kem.cipherTextBytes)
  const out = new Uint8Array(PREKEY_FIXED_BYTES + message.length)
  const view = new DataView(out.buffer)
  out[0] = WIRE_VERSION
  out[1] = TYPE_PREKEY
  out.set(prekey.identityKey, 2)
  out.set(prekey.ephemeralKey, 34)
  view.setUint32(66, prekey.signedPrekeyId)
  view.setUint32(70, prekey.kemPrekeyId)
  view.setUint32(74, prekey.oneTimePrekeyId ?? NO_ONE_TIME_KEY)
  out.set(prekey.kemCipherText, 78)
  out.set(message, PREKEY_FIXED_BYTES)
  return out
}

/**
 * Parses a message or prekey message.
 * @throws {RangeError} when the bytes are not a well-formed message
 */
export function decodeMessage(bytes: Uint8Array): WireMessage {
  checkBytes('message', bytes)
  if (bytes[0] !== WIRE_VERSION) {
    throw new RangeError(`decodeMessage: unsupported version ${bytes[0]}`)
  }
  if (bytes[1] === TYPE_PREKEY) {
    if (bytes.length < PREKEY_FIXED_BYTES + HEADER_BYTES + 16) {
      throw new RangeError('decodeMessage: truncated prekey message')
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const oneTime = view.getUint32(74)
    const inner = decodeMessage(bytes.subarray(PREKEY_FIXED_BYTES))
    if (inner.type !== 'message')
      throw new RangeError('decodeMessage: nested prekey message')
    return {
      ...inner,
      type: 'prekey',
      prekey: {
        identityKey: bytes.slice(2, 34),
        ephemeralKey: bytes.slice(34, 66),
        signedPrekeyId: view.getUint32(66),
        kemPrekeyId: view.getUint32(70),
        oneTimePrekeyId: oneTime === NO_ONE_TIME_KEY ? null : oneTime,
        kemCipherText: bytes.slice(78, PREKEY_FIXED_BYTES),
      },
    }
  }
  if (bytes[1] !== TYPE_MESSAGE)
    throw new RangeError(`decodeMessage: unknown type ${bytes[1]}`)
  // 16 bytes: the Poly1305 tag, so an empty ciphertext is malformed.
  if (bytes.length < HEADER_BYTES + 16)
    throw new RangeError('decodeMessage: truncated message')

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return {
    type: 'message',
    header: {
      ratchetKey: bytes.slice(2, 34),
      previousCounter: view.getUint32(34),
      counter: view.getUint32(38),
    },
    headerBytes: bytes.slice(0, HEADER_BYTES),
    ciphertext: bytes.slice(HEADER_BYTES),
  }
}
