/**
 * The primitives, all from noble: X25519 and Ed25519 (@noble/curves),
 * HKDF and HMAC over SHA-256 (@noble/hashes), XChaCha20-Poly1305
 * (@noble/ciphers), ML-KEM-768 (@noble/post-quantum). Nothing here is new
 * cryptography; this file only fixes which functions the protocol uses.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { randomBytes as nobleRandomBytes } from '@noble/hashes/utils.js'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'

import type { Bytes } from '../bytes'
import { checkBytes, DecryptError } from './errors'

/** An X25519 or Ed25519 key pair. */
export interface KeyPair {
  publicKey: Bytes
  secretKey: Bytes
}

const own = (bytes: Uint8Array): Bytes => new Uint8Array(bytes)

/** Cryptographically secure random bytes (WebCrypto underneath). */
export function randomBytes(length: number): Bytes {
  return own(nobleRandomBytes(length))
}

/**
 * X25519 behind one interface: WebCrypto where the platform has it
 * (Chromium, Node), noble otherwise. Both give the same bytes; the tests
 * cross-check them.
 */
export interface X25519Backend {
  readonly name: 'webcrypto' | 'noble'
  generateKeyPair(): Promise<KeyPair>
  /** @throws {Error} for a low-order or malformed public key */
  sharedSecret(secretKey: Uint8Array, publicKey: Uint8Array): Promise<Bytes>
}

/** noble's X25519, wrapped in promises. */
export const nobleX25519: X25519Backend = {
  name: 'noble',
  generateKeyPair: () => {
    const secretKey = own(x25519.utils.randomSecretKey())
    return Promise.resolve({ secretKey, publicKey: own(x25519.getPublicKey(secretKey)) })
  },
  // A throw inside the executor becomes the promise's rejection.
  sharedSecret: (secretKey, publicKey) =>
    new Promise((resolve) => resolve(own(x25519.getSharedSecret(secretKey, publicKey)))),
}

/** The subset of WebCrypto used here (lib/core is compiled without DOM types). */
interface SubtleSubset {
  importKey(
    format: 'raw' | 'pkcs8',
    data: Uint8Array,
    algorithm: { name: 'X25519' },
    extractable: boolean,
    usages: string[],
  ): Promise<unknown>
  generateKey(
    algorithm: { name: 'X25519' },
    extractable: boolean,
    usages: string[],
  ): Promise<{ publicKey: unknown; privateKey: unknown }>
  exportKey(format: 'raw' | 'pkcs8', key: unknown): Promise<ArrayBuffer>
  deriveBits(
    algorithm: { name: 'X25519'; public: unknown },
    key: unknown,
    length: number,
  ): Promise<ArrayBuffer>
}

/** The DER prefix of an X25519 private key in PKCS #8 (RFC 8410 §7). */
const PKCS8_X25519 = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
)

/** X25519 through WebCrypto; keys travel as the same 32 raw bytes as noble's. */
export function webCryptoX25519(subtle: SubtleSubset): X25519Backend {
  const algorithm = { name: 'X25519' } as const
  return {
    name: 'webcrypto',
    async generateKeyPair() {
      const pair = await subtle.generateKey(algorithm, true, ['deriveBits'])
      const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', pair.privateKey))
      const publicKey = new Uint8Array(await subtle.exportKey('raw', pair.publicKey))
      return { secretKey: pkcs8.slice(PKCS8_X25519.length), publicKey }
    },
    async sharedSecret(secretKey, publicKey) {
      const pkcs8 = new Uint8Array(PKCS8_X25519.length + 32)
      pkcs8.set(PKCS8_X25519)
      pkcs8.set(checkBytes('secretKey', secretKey, 32), PKCS8_X25519.length)
      const [ours, theirs] = await Promise.all([
        subtle.importKey('pkcs8', pkcs8, algorithm, false, ['deriveBits']),
        subtle.importKey(
          'raw',
          checkBytes('publicKey', publicKey, 32),
          algorithm,
          false,
          [],
        ),
      ])
      pkcs8.fill(0)
      return new Uint8Array(
        await subtle.deriveBits({ ...algorithm, public: theirs }, ours, 256),
      )
    },
  }
}

let backend: Promise<X25519Backend> | undefined

/** Picks WebCrypto when it does X25519 here, else noble; decided once. */
export function x25519Backend(): Promise<X25519Backend> {
  backend ??= (async () => {
    const subtle = (globalThis as { crypto?: { subtle?: SubtleSubset } }).crypto?.subtle
    if (!subtle) return nobleX25519
    try {
      const candidate = webCryptoX25519(subtle)
      const probe = await candidate.generateKeyPair()
      await candidate.sharedSecret(probe.secretKey, probe.publicKey)
      return candidate
    } catch {
      return nobleX25519
    }
  })()
  return backend
}

/** Uses the given backend from now on (tests cross-check both). */
export function useX25519Backend(choice: X25519Backend): void {
  backend = Promise.resolve(choice)
}

/** A new X25519 key pair. */
export async function generateDhKeyPair(): Promise<KeyPair> {
  return (await x25519Backend()).generateKeyPair()
}

/** A new Ed25519 key pair (identity keys: they sign, and their X25519 form agrees). */
export function generateSigningKeyPair(): KeyPair {
  const secretKey = own(ed25519.utils.randomSecretKey())
  return { secretKey, publicKey: own(ed25519.getPublicKey(secretKey)) }
}

/**
 * X25519 of our secret with their public key.
 * @throws {DecryptError} for a low-order or malformed public key (RFC 7748 §6.1's
 *   all-zero check): such a key can only come from a forged message
 */
export async function dh(secretKey: Uint8Array, publicKey: Uint8Array): Promise<Bytes> {
  const chosen = await x25519Backend()
  try {
    return await chosen.sharedSecret(secretKey, publicKey)
  } catch (cause) {
    throw new DecryptError('dh', { cause })
  }
}

/**
 * The X25519 form of an Ed25519 identity key (the birational map, as
 * libsodium's crypto_sign_ed25519_pk_to_curve25519), so one identity key
 * both signs and takes part in PQXDH.
 */
export const identityDh = {
  publicKey: (edPublicKey: Uint8Array): Bytes =>
    own(ed25519.utils.toMontgomery(edPublicKey)),
  secretKey: (edSecretKey: Uint8Array): Bytes =>
    own(ed25519.utils.toMontgomerySecret(edSecretKey)),
}

/** Ed25519 signature. */
export function sign(message: Uint8Array, secretKey: Uint8Array): Bytes {
  return own(ed25519.sign(message, secretKey))
}

/** Ed25519 verification; false for any malformed input. */
export function verify(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
) {
  try {
    return ed25519.verify(signature, message, publicKey)
  } catch {
    return false
  }
}

/** HKDF-SHA-256. */
export function kdf(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Bytes {
  return own(hkdf(sha256, ikm, salt, info, length))
}

/** HMAC-SHA-256. */
export function mac(key: Uint8Array, message: Uint8Array): Bytes {
  return own(hmac(sha256, key, message))
}

/**
 * XChaCha20-Poly1305 sealing. Each message key is used once (Double
 * Ratchet §3.1), and the 24-byte nonce is derived with it, never reused.
 */
export function seal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array,
) {
  return own(xchacha20poly1305(key, nonce, ad).encrypt(plaintext))
}

/** Opens what `seal` made. @throws {DecryptError} on any authentication failure */
export function open(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array,
  operation: string,
): Bytes {
  try {
    return own(xchacha20poly1305(key, nonce, ad).decrypt(ciphertext))
  } catch (cause) {
    throw new DecryptError(operation, { cause })
  }
}

/** ML-KEM-768 (FIPS 203), the PQXDH post-quantum KEM. */
export const kem = {
  publicKeyBytes: 1184,
  cipherTextBytes: 1088,
  keygen: (): KeyPair => {
    const { publicKey, secretKey } = ml_kem768.keygen()
    return { publicKey: own(publicKey), secretKey: own(secretKey) }
  },
  encapsulate: (publicKey: Uint8Array) => {
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey)
    return { cipherText: own(cipherText), sharedSecret: own(sharedSecret) }
  },
  decapsulate: (cipherText: Uint8Array, secretKey: Uint8Array): Bytes =>
    // ML-KEM decapsulation never fails: a bad ciphertext gives an unrelated
    // secret (implicit rejection), caught later by the AEAD.
    own(ml_kem768.decapsulate(cipherText, new Uint8Array(secretKey))),
}

/** Byte equality in constant time (safe for secrets; used for keys too). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return diff === 0
}
