/**
 * The few errors the encryption core throws. Every authentication failure is
 * the same opaque DecryptError, so a caller (or an attacker watching one)
 * learns nothing about which check failed.
 */

/** Authentication failed: wrong key, changed byte, forged signature. */
export class DecryptError extends Error {
  override readonly name = 'DecryptError'
  readonly code = 'invalid-tag'
  constructor(operation: string, options?: { cause?: unknown }) {
    super(`${operation}: invalid tag`, options)
  }
}

/** The message was already decrypted once; its key is gone. */
export class DuplicateMessageError extends Error {
  override readonly name = 'DuplicateMessageError'
  readonly code = 'duplicate'
  constructor(operation: string) {
    super(`${operation}: message already received`)
  }
}

/** The message skips more keys than the ratchet allows, or its chain is gone. */
export class MessageOutOfBoundsError extends Error {
  override readonly name = 'MessageOutOfBoundsError'
  readonly code = 'out-of-bounds'
}

/** A remote key failed its signature: bundle, device list or device key. */
export class UntrustedKeyError extends Error {
  override readonly name = 'UntrustedKeyError'
  readonly code = 'untrusted-key'
}

/** Throws TypeError or RangeError naming the argument, expected and actual. */
export function checkBytes(name: string, value: unknown, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`"${name}" expected Uint8Array, got type=${typeof value}`)
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(
      `"${name}" expected Uint8Array of length ${length}, got length=${value.length}`,
    )
  }
  return value
}
