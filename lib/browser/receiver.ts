/**
 * Receiving: an envelope from the relay is decrypted, checked against its
 * sender's signed device list, and stored with the new session state in one
 * IndexedDB transaction, together with its sequence number. Only then is it
 * acknowledged, so a crash at any point either redelivers it (nothing was
 * stored) or finds its sequence number and drops the copy (everything was).
 * Message ids catch the other kind of copy: a send the sender retried.
 */
import type { WireEnvelope } from '@/lib/core/api'
import { fromBase64 } from '@/lib/core/bytes'
import { decodeContent, missingCase, type Content } from '@/lib/core/content'
import { DuplicateMessageError } from '@/lib/core/crypto/errors'
import type { DeviceKeys } from '@/lib/core/crypto/keys'
import { deleteConsumed } from '@/lib/core/crypto/pqxdh'
import { decrypt } from '@/lib/core/crypto/session'
import { decodeMessage } from '@/lib/core/crypto/wire'

import {
  database,
  touchConversation,
  updatedConversation,
  type MessageRecord,
  type MessageStatus,
  type TidingsDb,
  type WriteTx,
} from './db'
import { withDeviceLock } from './device-lock'
import type { Directory } from './directory'
import { logger, shortId } from './log'
import { isTransient } from './relay-client'

const log = logger('receiver')

/** Ticks only move forward: a late "delivered" never undoes "read". */
export const STATUS_RANK: Record<MessageStatus, number> = {
  failed: 0,
  pending: 0,
  sent: 1,
  delivered: 2,
  read: 3,
}

/** What a batch did, for the page: what to acknowledge and what is new. */
export interface Received {
  seqs: number[]
  /** Messages from contacts stored by this batch (for notifications). */
  messages: Pick<MessageRecord, 'conversation' | 'id' | 'from' | 'body'>[]
}

interface Self {
  username: string
  deviceId: string
}

/**
 * Stores a batch of envelopes from the device's queue, in order, holding
 * the device's session lock.
 * @returns the sequence numbers to acknowledge: stored, duplicate or dropped
 * @throws {NetworkError} when the sender's account could not be checked;
 *   the envelopes from that one on are left for the next delivery
 */
export async function receiveEnvelopes(
  self: Self,
  directory: Directory,
  envelopes: WireEnvelope[],
): Promise<Received> {
  const received: Received = { seqs: [], messages: [] }
  await withDeviceLock(self.deviceId, async () => {
    for (const envelope of envelopes) {
      const message = await receiveOne(self, directory, envelope)
      received.seqs.push(envelope.seq)
      if (message) received.messages.push(message)
    }
  })
  return received
}

/**
 * Stands in for the prekeys when decrypting on an existing session, which
 * never reads them; a first message is always given the real ones.
 */
const NO_PREKEYS: DeviceKeys = {
  identity: { publicKey: new Uint8Array(32), secretKey: new Uint8Array(32) },
  signedPrekeys: [],
  lastResortKemPrekeys: [],
  oneTimePrekeys: [],
  oneTimeKemPrekeys: [],
  nextKeyId: 0,
}

async function receiveOne(self: Self, directory: Directory, envelope: WireEnvelope) {
  const db = await database()
  const [processed, stored] = await Promise.all([
    db.get('processed', envelope.seq),
    db.get('sessions', envelope.senderDeviceId),
  ])
  if (processed) return null
  const record = stored ?? null

  let opened: Awaited<ReturnType<typeof decrypt>>
  let from: string
  try {
    const bytes = fromBase64(envelope.content)
    // The prekeys (large) are read only for a first message, which needs them.
    const keys =
      decodeMessage(bytes).type === 'prekey' ? await db.get('keys', 'self') : null
    opened = await decrypt(
      record,
      {
        ourKeys: keys ?? NO_PREKEYS,
        ourDeviceId: self.deviceId,
        theirDeviceId: envelope.senderDeviceId,
      },
      bytes,
    )
    // Whose device it is, by the account's signed list, not the relay's word.
    from = await directory.ownerOf(
      envelope.senderDeviceId,
      opened.record.theirIdentityKey,
    )
  } catch (error) {
    if (error instanceof DuplicateMessageError) {
      await markProcessed(db, envelope.seq)
      return null
    }
    // The network or the local store failing is worth another try: the
    // envelope stays unprocessed and comes again. Anything else about this
    // envelope will not get better, and must not hold up the ones after it.
    if (!isTransient(error) && !(error instanceof DOMException)) {
      log.warn('envelope dropped', {
        seq: envelope.seq,
        sender: shortId(envelope.senderDeviceId),
        error: (error as Error).name,
      })
      await markProcessed(db, envelope.seq)
      return null
    }
    throw error
  }

  let content: Content | null = null
  try {
    content = decodeContent(opened.plaintext)
  } catch (error) {
    // Authentic but unreadable (a newer client's content kind): the session
    // still moves on, or its next messages would not decrypt.
    log.warn('content not understood', {
      seq: envelope.seq,
      error: (error as Error).message.slice(0, 80),
    })
  }

  const tx = db.transaction(
    ['device', 'keys', 'sessions', 'messages', 'conversations', 'outbox', 'processed'],
    'readwrite',
  )
  void tx.objectStore('sessions').put(opened.record)
  if (opened.consumed) {
    const keys = await tx.objectStore('keys').get('self')
    if (keys)
      void tx.objectStore('keys').put(deleteConsumed(keys, opened.consumed), 'self')
  }
  const shown = content
    ? await apply(tx, self, from, content, envelope.serverTimestamp)
    : null
  void tx.objectStore('processed').put({ seq: envelope.seq, at: Date.now() })
  await tx.done
  return shown
}

type ReceiveTx = WriteTx<
  'device' | 'keys' | 'sessions' | 'messages' | 'conversations' | 'outbox' | 'processed'
>

/** Applies decrypted content inside the receiving transaction. */
async function apply(
  tx: ReceiveTx,
  self: Self,
  from: string,
  content: Content,
  serverTimestamp: number,
): Promise<Received['messages'][number] | null> {
  const messages = tx.objectStore('messages')
  const fromSelf = from === self.username

  switch (content.kind) {
    case 'text': {
      if (fromSelf) return null
      const conversations = tx.objectStore('conversations')
      const [existing, chat] = await Promise.all([
        messages.get([from, content.id]),
        conversations.get(from),
      ])
      if (existing) return null
      void messages.put({
        conversation: from,
        id: content.id,
        from,
        outgoing: false,
        body: content.body,
        sentAt: content.sentAt,
        status: 'delivered',
        serverTimestamp,
      })
      void conversations.put(
        updatedConversation(chat, from, content.body, serverTimestamp, 1),
      )
      // The delivery receipt goes out through the outbox, so it survives a
      // crash; the outbox sends the receipts queued together as one.
      void tx.objectStore('outbox').put({
        id: `delivered:${from}:${content.id}`,
        to: from,
        content: { kind: 'delivery-receipt', ids: [content.id] },
        queuedAt: Date.now(),
        attempts: 0,
      })
      return { conversation: from, id: content.id, from, body: content.body }
    }

    case 'sent-sync': {
      // Sent by another of our devices: shown as our own message.
      if (!fromSelf || content.to === self.username) return null
      if (await messages.get([content.to, content.message.id])) return null
      await messages.put({
        conversation: content.to,
        id: content.message.id,
        from: self.username,
        outgoing: true,
        body: content.message.body,
        sentAt: content.message.sentAt,
        status: 'sent',
        serverTimestamp,
      })
      await touchConversation(
        tx.objectStore('conversations'),
        content.to,
        content.message.body,
        serverTimestamp,
        0,
      )
      return null
    }

    case 'delivery-receipt':
    case 'read-receipt': {
      if (fromSelf) return null
      const status = content.kind === 'read-receipt' ? 'read' : 'delivered'
      for (const id of content.ids) {
        const message = await messages.get([from, id])
        if (!message?.outgoing || STATUS_RANK[message.status] >= STATUS_RANK[status]) {
          continue
        }
        await messages.put({ ...message, status })
      }
      return null
    }

    case 'read-sync': {
      // Read on another of our devices: clear the unread count here too.
      if (!fromSelf) return null
      let cleared = 0
      for (const id of content.ids) {
        const message = await messages.get([content.conversation, id])
        if (!message || message.outgoing || message.status === 'read') continue
        await messages.put({ ...message, status: 'read' })
        cleared++
      }
      const conversation = await tx.objectStore('conversations').get(content.conversation)
      if (conversation && cleared > 0) {
        conversation.unread = Math.max(0, conversation.unread - cleared)
        await tx.objectStore('conversations').put(conversation)
      }
      return null
    }

    case 'history-bundle': {
      // Recent chats from the device that linked us (our own account only).
      if (!fromSelf) return null
      await importHistory(tx, self, content)
      return null
    }

    case 'device-link':
      // Travels only sealed inside a link, never over a session.
      log.warn('device-link content over a session ignored')
      return null

    default:
      return missingCase(content)
  }
}

/** Stores a history part's messages (skipping known ones) and the progress. */
async function importHistory(
  tx: ReceiveTx,
  self: Self,
  bundle: Extract<Content, { kind: 'history-bundle' }>,
): Promise<void> {
  const messages = tx.objectStore('messages')
  const conversations = tx.objectStore('conversations')
  for (const entry of bundle.conversations) {
    if (entry.with === self.username) continue
    let chat = await conversations.get(entry.with)
    for (const message of entry.messages) {
      if (await messages.get([entry.with, message.id])) continue
      const outgoing = message.from === self.username
      void messages.put({
        conversation: entry.with,
        id: message.id,
        from: message.from,
        outgoing,
        body: message.body,
        sentAt: message.sentAt,
        // Old messages: ours were sent, theirs were read on the other device.
        status: outgoing ? 'sent' : 'read',
        serverTimestamp: null,
      })
      chat = updatedConversation(chat, entry.with, message.body, message.sentAt, 0)
    }
    if (chat) void conversations.put(chat)
  }

  const device = await tx.objectStore('device').get('self')
  if (device?.history) {
    const received = [...new Set([...device.history.received, bundle.part])]
    // Complete: no more progress to show, and a later history (another
    // device linked) is imported without mixing its parts with these.
    const history =
      received.length >= bundle.parts ? null : { parts: bundle.parts, received }
    void tx.objectStore('device').put({ ...device, history }, 'self')
  }
}

async function markProcessed(db: TidingsDb, seq: number): Promise<void> {
  await db.put('processed', { seq, at: Date.now() })
}
