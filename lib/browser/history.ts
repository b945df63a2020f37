/**
 * History for a newly linked device: the existing device sends its recent
 * chats as `history-bundle` parts over ordinary sessions, and the new device
 * imports them as they arrive, showing its progress.
 *
 * Limits: the 50 most recent chats, the last 200 messages of each, in parts
 * of about 40 KB of JSON (an envelope holds at most 96 KiB).
 */
import { utf8Bytes } from '@/lib/core/bytes'
import type { Content } from '@/lib/core/content'

import { conversationList, conversationMessages, type MessageRecord } from './db'

export const HISTORY_LIMITS = {
  conversations: 50,
  messagesPerConversation: 200,
  partBytes: 40_000,
  /** A single message larger than this (in JSON) is left out. */
  messageBytes: 80_000,
} as const

type Bundle = Extract<Content, { kind: 'history-bundle' }>
type Entry = Bundle['conversations'][number]

/** The history-bundle contents to send, in order (one empty part when there is nothing). */
export async function historyParts(): Promise<Bundle[]> {
  const parts: Entry[][] = [[]]
  let size = 0

  const chats = (await conversationList()).slice(0, HISTORY_LIMITS.conversations)
  for (const chat of chats) {
    const recent = (await conversationMessages(chat.id)).slice(
      -HISTORY_LIMITS.messagesPerConversation,
    )
    for (const message of recent) {
      const item = toHistory(message)
      // UTF-8 bytes, as they travel (an envelope holds at most 96 KiB).
      const bytes = utf8Bytes(JSON.stringify(item)).length
      if (bytes > HISTORY_LIMITS.messageBytes) continue
      if (size + bytes > HISTORY_LIMITS.partBytes && size > 0) {
        parts.push([])
        size = 0
      }
      const part = parts[parts.length - 1]
      let entry = part.find((candidate) => candidate.with === chat.id)
      if (!entry) {
        entry = { with: chat.id, messages: [] }
        part.push(entry)
      }
      entry.messages.push(item)
      size += bytes
    }
  }

  return parts.map((conversations, part) => ({
    kind: 'history-bundle',
    part,
    parts: parts.length,
    conversations,
  }))
}

function toHistory(message: MessageRecord): Entry['messages'][number] {
  return {
    id: message.id,
    body: message.body,
    sentAt: message.sentAt,
    from: message.from,
  }
}
