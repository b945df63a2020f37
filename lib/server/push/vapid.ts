import 'server-only'

import { fromBase64Url } from '@/lib/core/bytes'

import { logger } from '../log'

const log = logger('push')

/** The relay's VAPID identity (RFC 8292), which push services check. */
export interface Vapid {
  /** A `mailto:` or `https:` URL where a push service can reach the operator. */
  subject: string
  /** P-256 public key, base64url (65 bytes, uncompressed). */
  publicKey: string
  /** P-256 private key, base64url (32 bytes). */
  privateKey: string
}

let cached: Vapid | null | undefined

/**
 * The VAPID keys from VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT
 * (`npm start` generates a pair once when they are unset). Null when they
 * are missing or malformed: the relay then runs without Web Push, and
 * devices receive when their page is open.
 */
export function vapid(): Vapid | null {
  if (cached !== undefined) return cached
  const publicKey = process.env.VAPID_PUBLIC_KEY ?? ''
  const privateKey = process.env.VAPID_PRIVATE_KEY ?? ''
  const subject = process.env.VAPID_SUBJECT || 'mailto:operator@tidings.invalid'

  cached = null
  if (!publicKey || !privateKey) {
    log.warn('VAPID_PUBLIC_KEY or VAPID_PRIVATE_KEY unset: Web Push is off')
  } else if (!isKey(publicKey, 65) || !isKey(privateKey, 32)) {
    log.error('VAPID keys are not base64url P-256 keys: Web Push is off')
  } else if (!/^(mailto:|https:\/\/)/.test(subject)) {
    log.error('VAPID_SUBJECT must be a mailto: or https: URL: Web Push is off')
  } else {
    cached = { subject, publicKey, privateKey }
  }
  return cached
}

function isKey(text: string, length: number): boolean {
  try {
    return fromBase64Url(text).length === length
  } catch {
    return false
  }
}
