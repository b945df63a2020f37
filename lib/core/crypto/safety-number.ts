/**
 * Safety numbers: 60 digits (12 groups of 5) that two people compare to
 * check they hold each other's real account identity keys. Signal's
 * construction: per party, SHA-512 iterated 5,200 times over the version,
 * the identity key and a stable id; 30 digits each; the two halves in a
 * fixed order so both sides see the same number. Linking or removing a
 * device does not change it: only account identity keys go in.
 */
import { sha512 } from '@noble/hashes/sha2.js'

import { concatBytes, utf8Bytes } from '../bytes'
import { checkBytes } from './errors'

const ITERATIONS = 5200
const VERSION = Uint8Array.of(0, 0)

function half(identityKey: Uint8Array, stableId: string): string {
  let digest: Uint8Array = sha512(concatBytes(VERSION, identityKey, utf8Bytes(stableId)))
  for (let i = 0; i < ITERATIONS; i++) digest = sha512(concatBytes(digest, identityKey))

  let digits = ''
  for (let chunk = 0; chunk < 6; chunk++) {
    let value = 0
    for (let i = 0; i < 5; i++) value = value * 256 + (digest[chunk * 5 + i] ?? 0)
    digits += String(value % 100_000).padStart(5, '0')
  }
  return digits
}

/**
 * The safety number of two accounts, the same whichever side computes it.
 * @param ours - our account identity key and username
 * @param theirs - the contact's account identity key and username
 * @returns 12 groups of 5 digits
 */
export function safetyNumber(
  ours: { identityKey: Uint8Array; username: string },
  theirs: { identityKey: Uint8Array; username: string },
): string[] {
  checkBytes('ours.identityKey', ours.identityKey, 32)
  checkBytes('theirs.identityKey', theirs.identityKey, 32)
  const a = half(ours.identityKey, ours.username)
  const b = half(theirs.identityKey, theirs.username)
  const digits = a < b ? a + b : b + a
  return digits.match(/\d{5}/g) ?? []
}
