import assert from 'node:assert/strict'
import { createECDH, randomBytes } from 'node:crypto'
import { test } from 'node:test'

import webpush from 'web-push'

import type { WireEnvelope } from '../../lib/core/api'
import { MAX_PUSH_PAYLOAD_BYTES, pushPayload, readPushPayload } from '../../lib/core/push'

/** An envelope whose push payload, carried whole, is exactly `bytes` long. */
function envelopeOfPayloadSize(bytes: number): WireEnvelope {
  const empty = {
    seq: 7,
    senderDeviceId: 'd'.repeat(43),
    serverTimestamp: 1,
    content: '',
  }
  const overhead = JSON.stringify({ v: 1, envelope: empty }).length
  return { ...empty, content: 'A'.repeat(bytes - overhead) }
}

/** What web-push posts for `payload` to a fresh subscription, in bytes. */
function encryptedSize(payload: string): number {
  const recipient = createECDH('prime256v1')
  recipient.generateKeys()
  const { cipherText } = webpush.encrypt(
    recipient.getPublicKey().toString('base64url'),
    randomBytes(16).toString('base64url'),
    payload,
    'aes128gcm',
  )
  return cipherText.length
}

test('an envelope whose payload is 3,993 bytes goes whole, and fits in 4,096 encrypted', () => {
  const envelope = envelopeOfPayloadSize(MAX_PUSH_PAYLOAD_BYTES)
  const payload = pushPayload(envelope)

  assert.equal(payload.length, MAX_PUSH_PAYLOAD_BYTES)
  assert.deepEqual(readPushPayload(payload), { v: 1, envelope })
  assert.ok(encryptedSize(payload) <= 4096, 'the push service must accept it')
})

test('one byte more and the push is a wake-up', () => {
  const envelope = envelopeOfPayloadSize(MAX_PUSH_PAYLOAD_BYTES + 1)

  assert.deepEqual(readPushPayload(pushPayload(envelope)), { v: 1, wake: true })
  // Sent whole, it would have been over the limit every push service keeps.
  const whole = JSON.stringify({ v: 1, envelope })
  assert.ok(encryptedSize(whole) > 4096)
})
