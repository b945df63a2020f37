import 'server-only'

import { prekeyStatement } from '@/lib/core/statements'
import { verify } from '@/lib/core/crypto/primitives'

import { ApiError } from '../http/api-error'

interface SignedKey {
  keyId: number
  publicKey: Uint8Array
  signature: Uint8Array
}

/**
 * Checks a signed prekey's signature by the device identity key, so no one
 * can publish keys the device did not make.
 * @throws {ApiError} invalid-request naming the field
 */
export function verifySignedPrekey(
  kind: 'x25519' | 'mlkem768',
  key: SignedKey,
  identityKey: Uint8Array,
  field: string,
): void {
  const message = prekeyStatement(kind, key.publicKey)
  if (!verify(key.signature, message, identityKey)) {
    throw new ApiError('invalid-request', `body.${field}.signature: does not verify`, {
      field,
    })
  }
}
