/**
 * Byte helpers used on every side. Base64 comes from @scure/base
 * (noble's sibling), never from atob, so this runs anywhere; on Node,
 * standard base64 is decoded natively instead (the relay decodes every
 * envelope it accepts, and scure's JavaScript costs ~30 µs per envelope).
 */
import { base64, base64urlnopad, utf8 } from '@scure/base'

/** Bytes on a plain ArrayBuffer, as storage and WebCrypto APIs expect. */
export type Bytes = Uint8Array<ArrayBuffer>

/** Node's Buffer, described by what is used of it (lib/core has no Node types). */
interface NativeBase64 {
  from(
    text: string,
    encoding: 'base64',
  ): Uint8Array & { toString(encoding: 'base64'): string }
}
const native = (globalThis as { Buffer?: NativeBase64 }).Buffer

/** Standard padded base64, the encoding of every byte field in the JSON API. */
export function toBase64(bytes: Uint8Array): string {
  return base64.encode(bytes)
}

/**
 * Decodes standard padded base64.
 * @throws {SyntaxError} when the text is not canonical base64
 */
export function fromBase64(text: string): Bytes {
  if (native) {
    // Node skips characters that are not base64: the text is canonical
    // only when its bytes encode back to exactly it.
    const decoded = native.from(text, 'base64')
    if (decoded.toString('base64') !== text) {
      throw new SyntaxError('fromBase64: expected standard padded base64')
    }
    // A copy on its own ArrayBuffer: Node's small buffers share a pool.
    return new Uint8Array(decoded)
  }
  try {
    // A fresh array on its own ArrayBuffer.
    return base64.decode(text) as Bytes
  } catch {
    throw new SyntaxError('fromBase64: expected standard padded base64')
  }
}

/** URL-safe base64 without padding, for ids and tokens. */
export function toBase64Url(bytes: Uint8Array): string {
  return base64urlnopad.encode(bytes)
}

/**
 * Decodes unpadded base64url text.
 * @throws {RangeError} when the text is not base64url
 */
export function fromBase64Url(text: string): Bytes {
  try {
    return new Uint8Array(base64urlnopad.decode(text))
  } catch {
    throw new RangeError('fromBase64Url: not base64url')
  }
}

/** UTF-8 encoding of a string. */
export function utf8Bytes(text: string): Bytes {
  return utf8.decode(text) as Bytes
}

/** Decodes UTF-8 bytes to a string (invalid sequences become U+FFFD). */
export function utf8Text(bytes: Uint8Array): string {
  return utf8.encode(bytes)
}

/** Concatenates byte arrays into a new one. */
export function concatBytes(...parts: Uint8Array[]): Bytes {
  const length = parts.reduce((sum, part) => sum + part.length, 0)
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
