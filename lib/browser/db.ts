/**
 * The device's IndexedDB database: one typed schema, one upgrade function
 * keyed on the old version, a lazy connection. Everything a device knows
 * lives here: its keys and sessions, contacts, conversations, messages with
 * their status, the outbox, and the envelopes already processed.
 *
 * Callers await each transaction's `done`, so a write is on disk before the
 * envelope that caused it is acknowledged to the relay.
 */
import {
  deleteDB,
  openDB,
  type DBSchema,
  type IDBPDatabase,
  type IDBPObjectStore,
  type IDBPTransaction,
} from 'idb'

import type { Bytes } from '@/lib/core/bytes'
import type { Content } from '@/lib/core/content'
import type { DeviceKeys } from '@/lib/core/crypto/keys'
import type { KeyPair } from '@/lib/core/crypto/primitives'
import type { SessionRecord } from '@/lib/core/crypto/session'

/** Where an own message is: a clock, one grey, two grey, two blue, or failed. */
export type MessageStatus = 'pending' | 'sent' | 'delivered' | 'read' | 'failed'

/**
 * This device: who it is and its relay credential. Small, as it is read and
 * written with every message sent; the prekeys live in their own store.
 */
export interface LocalDevice {
  username: string
  deviceId: string
  deviceName: string
  /** The account identity; it signs device keys and device lists. */
  account: KeyPair
  /** The device identity (also in DeviceKeys, which is read only for new sessions). */
  identity: KeyPair
  credential: { token: string; expiresAt: number } | null
  /** Last timestamp handed out, so this device's messages order strictly. */
  clock: number
  /**
   * History a newly linked device is receiving: which parts arrived of how
   * many (0 until the first says). Null on a device that expects none.
   */
  history: { parts: number; received: number[] } | null
  /** When the relay said this device was unlinked; the page then offers to delete it. */
  removedAt?: number
  /**
   * Notifications: whether they show the sender and text (the default) or
   * only that a message came; and the push endpoint last registered with
   * the relay, so a changed subscription is registered again.
   */
  notifications?: { previews: boolean; endpoint: string | null }
  createdAt: number
}

/** A contact's account as last verified (trust on first use). */
export interface ContactRecord {
  username: string
  /** The account identity key; its change raises a warning in the chat. */
  identityKey: Bytes
  deviceListVersion: number
  /** Devices on the signed list whose keys the account signed. */
  devices: { deviceId: string; identityKey: Bytes }[]
  /** When the identity key last changed, until the user looks at it. */
  identityChangedAt: number | null
  /** When the relay last served a list for them that did not verify (null once one does). */
  listRejectedAt?: number | null
  checkedAt: number
}

/** One chat, named after the contact's username. */
export interface ConversationRecord {
  id: string
  lastText: string
  lastAt: number
  unread: number
}

/** A message as shown in a conversation. */
export interface MessageRecord {
  conversation: string
  /** The sender's id for the message; unique within the conversation. */
  id: string
  /** The author's username. */
  from: string
  outgoing: boolean
  body: string
  /** The author's clock: messages are shown in their author's order. */
  sentAt: number
  /** Own messages: the ticks. Incoming: 'delivered' until read. */
  status: MessageStatus
  /** The relay's time of acceptance (own messages, once sent). */
  serverTimestamp: number | null
}

/** Content waiting to be encrypted and sent (survives reloads and crashes). */
export interface OutboxItem {
  id: string
  to: string
  content: Content
  /** Orders the outbox: the device clock when it was queued. */
  queuedAt: number
  attempts: number
  /**
   * The envelopes, when the content could be encrypted as it was queued
   * (sessions with every device already there). A retry posts these same
   * bytes; a changed device list has them made afresh.
   */
  envelopes?: { deviceId: string; content: string }[]
}

export interface TidingsSchema extends DBSchema {
  device: { key: 'self'; value: LocalDevice }
  /** The device's prekeys (some 360 KB with the ML-KEM keys): read only when needed. */
  keys: { key: 'self'; value: DeviceKeys }
  sessions: { key: string; value: SessionRecord }
  contacts: { key: string; value: ContactRecord }
  conversations: {
    key: string
    value: ConversationRecord
    indexes: { byLastAt: number }
  }
  messages: {
    key: [string, string]
    value: MessageRecord
    indexes: { byOrder: [string, number, string] }
  }
  outbox: { key: string; value: OutboxItem; indexes: { byQueuedAt: number } }
  /** Sequence numbers of our queue already stored, for exactly-once display. */
  processed: { key: number; value: { seq: number; at: number } }
}

export type TidingsDb = IDBPDatabase<TidingsSchema>
export type StoreName =
  | 'device'
  | 'keys'
  | 'sessions'
  | 'contacts'
  | 'conversations'
  | 'messages'
  | 'outbox'
  | 'processed'

/** A read-write transaction over the named stores. */
export type WriteTx<S extends StoreName> = IDBPTransaction<
  TidingsSchema,
  S[],
  'readwrite'
>

const VERSION = 1

/**
 * Opens (and creates or upgrades) the database. Each step upgrades from one
 * version to the next, so a device that skipped releases runs them all.
 */
export function openDatabase(name = 'tidings'): Promise<TidingsDb> {
  return openDB<TidingsSchema>(name, VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        db.createObjectStore('device')
        db.createObjectStore('keys')
        db.createObjectStore('sessions', { keyPath: 'theirDeviceId' })
        db.createObjectStore('contacts', { keyPath: 'username' })
        db.createObjectStore('conversations', { keyPath: 'id' }).createIndex(
          'byLastAt',
          'lastAt',
        )
        db.createObjectStore('messages', { keyPath: ['conversation', 'id'] }).createIndex(
          'byOrder',
          ['conversation', 'sentAt', 'id'],
        )
        db.createObjectStore('outbox', { keyPath: 'id' }).createIndex(
          'byQueuedAt',
          'queuedAt',
        )
        db.createObjectStore('processed', { keyPath: 'seq' })
      }
    },
    blocking(_current, _next, event) {
      // A newer version of the app wants to upgrade: step aside. A page
      // reloads into that version; a service worker (no reload) opens the
      // database afresh on its next use.
      ;(event.target as IDBDatabase | null)?.close()
      connection = undefined
      const page = globalThis.location as { reload?: () => void }
      page.reload?.()
    },
  })
}

let connection: Promise<TidingsDb> | undefined

/** The shared connection, opened on first use. */
export function database(): Promise<TidingsDb> {
  connection ??= openDatabase().catch((error: unknown) => {
    connection = undefined
    throw error
  })
  return connection
}

/** Deletes the device's database (after it was unlinked). */
export async function deleteDatabase(name = 'tidings'): Promise<void> {
  // No one may open it again while it goes (until the page reloads).
  const open = connection
  connection = Promise.reject(new Error('database: deleted'))
  connection.catch(() => undefined)
  ;(await open?.catch(() => null))?.close()
  await deleteDB(name)
}

/** The `byOrder` index range holding one conversation's messages. */
export function conversationRange(conversation: string): IDBKeyRange {
  return IDBKeyRange.bound(
    [conversation, -Infinity, ''],
    [conversation, Infinity, '\uffff'],
  )
}

/** Messages of a conversation in display order. */
export async function conversationMessages(conversation: string) {
  const db = await database()
  return db.getAllFromIndex('messages', 'byOrder', conversationRange(conversation))
}

/** Conversations, most recent first. */
export async function conversationList() {
  const db = await database()
  const all = await db.getAllFromIndex('conversations', 'byLastAt')
  return all.reverse()
}

/**
 * Updates a conversation's preview and time (creating it when new) and
 * adds to its unread count, inside the caller's transaction.
 */
export async function touchConversation(
  store: IDBPObjectStore<
    TidingsSchema,
    ArrayLike<StoreName>,
    'conversations',
    'readwrite'
  >,
  id: string,
  text: string,
  at: number,
  unread: number,
): Promise<void> {
  void store.put(updatedConversation(await store.get(id), id, text, at, unread))
}

/** A conversation record with a new message's preview, time and unread count. */
export function updatedConversation(
  current: ConversationRecord | undefined,
  id: string,
  text: string,
  at: number,
  unread: number,
): ConversationRecord {
  const newer = !current || at >= current.lastAt
  return {
    id,
    lastText: newer ? text : current.lastText,
    lastAt: newer ? at : current.lastAt,
    unread: (current?.unread ?? 0) + unread,
  }
}
