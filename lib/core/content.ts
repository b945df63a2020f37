/**
 * What travels inside the encryption: one exhaustive union of content
 * kinds. The server never sees any of it. Encoded as UTF-8 JSON, checked
 * with zod on the way in, then padded and encrypted by the session.
 */
import { z } from 'zod'

import { utf8Bytes, utf8Text } from './bytes'

const messageId = z.string().min(8).max(64)
const body = z.string().max(64 * 1024)

const textMessage = z.strictObject({
  id: messageId,
  body,
  sentAt: z.number().int().nonnegative(),
})

const content = z.discriminatedUnion('kind', [
  /** A message a person wrote. */
  z.strictObject({ kind: z.literal('text'), ...textMessage.shape }),
  /** A device of the recipient has stored these messages (two grey ticks). */
  z.strictObject({
    kind: z.literal('delivery-receipt'),
    ids: z.array(messageId).min(1).max(500),
  }),
  /** The recipient read these messages (two blue ticks). */
  z.strictObject({
    kind: z.literal('read-receipt'),
    ids: z.array(messageId).min(1).max(500),
  }),
  /** A message we sent from another of our devices, so every device shows it. */
  z.strictObject({
    kind: z.literal('sent-sync'),
    to: z.string().min(3).max(32),
    message: textMessage,
  }),
  /** We read these messages on another of our devices: clear the unread count. */
  z.strictObject({
    kind: z.literal('read-sync'),
    conversation: z.string().min(3).max(32),
    ids: z.array(messageId).min(1).max(500),
  }),
  /** Linking: the existing device hands the new one the account's keys. */
  z.strictObject({
    kind: z.literal('device-link'),
    accountSecretKey: z.string().max(128),
    username: z.string().min(3).max(32),
    deviceListVersion: z.number().int().positive(),
  }),
  /** Part of the recent history sent to a newly linked device. */
  z.strictObject({
    kind: z.literal('history-bundle'),
    part: z.number().int().nonnegative(),
    parts: z.number().int().positive(),
    conversations: z.array(
      z.strictObject({
        with: z.string().min(3).max(32),
        messages: z.array(
          z.strictObject({
            ...textMessage.shape,
            from: z.string().min(3).max(32),
          }),
        ),
      }),
    ),
  }),
])

/** Every kind of content. */
export type Content = z.infer<typeof content>
export type ContentKind = Content['kind']

/** Encodes content for encryption. */
export function encodeContent(value: Content): Uint8Array {
  return utf8Bytes(JSON.stringify(content.parse(value)))
}

/**
 * Decodes decrypted content.
 * @throws {RangeError} naming what is wrong, when it is not valid content
 */
export function decodeContent(bytes: Uint8Array): Content {
  let json: unknown
  try {
    json = JSON.parse(utf8Text(bytes))
  } catch {
    throw new RangeError('decodeContent: not UTF-8 JSON')
  }
  const result = content.safeParse(json)
  if (!result.success) {
    const issue = result.error.issues[0]
    throw new RangeError(
      `decodeContent: ${issue?.path.join('.') || 'content'}: ${issue?.message}`,
    )
  }
  return result.data
}

/**
 * A short description for logs and notifications' fallbacks. The switch
 * lists every kind: adding one fails to compile until it is handled here.
 */
export function describeContent(value: Content): string {
  switch (value.kind) {
    case 'text':
      return 'message'
    case 'delivery-receipt':
      return `delivery receipt for ${value.ids.length}`
    case 'read-receipt':
      return `read receipt for ${value.ids.length}`
    case 'sent-sync':
      return 'sent from another device'
    case 'read-sync':
      return `read on another device (${value.ids.length})`
    case 'device-link':
      return 'device link'
    case 'history-bundle':
      return `history part ${value.part + 1} of ${value.parts}`
    default:
      return missingCase(value)
  }
}

/** Ends a switch over a union: compile-time exhaustiveness, runtime guard. */
export function missingCase(value: never): never {
  throw new TypeError(`missingCase: unexpected ${JSON.stringify(value)}`)
}
