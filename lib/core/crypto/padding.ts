/**
 * Plaintext padding before encryption, so ciphertext lengths leak less:
 * a 0x80 byte, then zeros up to a multiple of 160 bytes (Signal's block).
 */
import type { Bytes } from '../bytes'

/** Padding block in bytes (Signal's figure). */
export const PADDING_BLOCK = 160

/** Pads to the next multiple of 160 bytes (always adds at least one byte). */
export function pad(plaintext: Uint8Array): Bytes {
  const length = Math.ceil((plaintext.length + 1) / PADDING_BLOCK) * PADDING_BLOCK
  const out = new Uint8Array(length)
  out.set(plaintext)
  out[plaintext.length] = 0x80
  return out
}

/** Removes the padding. @throws {RangeError} when it is malformed */
export function unpad(padded: Uint8Array): Bytes {
  let end = padded.length - 1
  while (end >= 0 && padded[end] === 0) end--
  if (end < 0 || padded[end] !== 0x80) throw new RangeError('unpad: malformed padding')
  return padded.slice(0, end)
}
