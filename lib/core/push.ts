/**
 * What a Web Push message carries from the relay to a device's service
 * worker. The push service sees only ciphertext (RFC 8291), and the
 * envelope inside is itself end-to-end encrypted; the service worker still
 * fetches the device's queue after reading it, because a push service may
 * collapse pushes that share a topic, or drop them.
 */
import type { WireEnvelope } from './api'
import { utf8Bytes } from './bytes'

/**
 * Largest push payload, in bytes: RFC 8291's aes128gcm leaves 3,993 bytes
 * of plaintext in the 4,096 bytes every push service must accept (86 of
 * header, 16 of tag, 1 of padding delimiter).
 */
export const MAX_PUSH_PAYLOAD_BYTES = 3993

/** A push: one envelope when it fits, otherwise only a wake-up. */
export type PushPayload = { v: 1; envelope: WireEnvelope } | { v: 1; wake: true }

/** The payload to push for an envelope: the envelope itself when it fits. */
export function pushPayload(envelope: WireEnvelope): string {
  const carried = JSON.stringify({ v: 1, envelope } satisfies PushPayload)
  if (utf8Bytes(carried).length <= MAX_PUSH_PAYLOAD_BYTES) return carried
  return JSON.stringify({ v: 1, wake: true } satisfies PushPayload)
}

/**
 * Reads a push payload; anything not understood counts as a wake-up, so a
 * push from a newer relay still makes the device fetch its queue.
 */
export function readPushPayload(text: string | null): PushPayload {
  try {
    const parsed = JSON.parse(text ?? '') as Partial<{
      v: number
      envelope: WireEnvelope
    }>
    const envelope = parsed.envelope
    if (
      parsed.v === 1 &&
      envelope &&
      Number.isSafeInteger(envelope.seq) &&
      typeof envelope.senderDeviceId === 'string' &&
      Number.isSafeInteger(envelope.serverTimestamp) &&
      typeof envelope.content === 'string'
    ) {
      return { v: 1, envelope }
    }
  } catch {
    // not JSON: a wake-up
  }
  return { v: 1, wake: true }
}
