import 'server-only'

import type { WireEnvelope } from '@/lib/core/api'
import type { Bytes } from '@/lib/core/bytes'

import { databaseUrl, providerOf, sqliteFilePath } from './database-url'
import { PostgresRelayStore } from './relay-store-postgres'
import { SqliteRelayStore } from './relay-store-sqlite'

/**
 * The statements on the relay's hot path: every send, every stream opening
 * and every acknowledgement. They run on the driver under Prisma's adapter
 * (better-sqlite3 or pg), prepared once, because Prisma spends about 230 µs
 * of CPU on even a one-row raw query here (Prisma 7 on its better-sqlite3
 * adapter, against 4 µs for the prepared statement), more than the whole
 * budget of an envelope.
 * Everything else goes through Prisma, which also owns the schema.
 *
 * Writes are group-committed: the sends, acknowledgements and last-seen
 * times that arrive within a moment share one transaction, so one disk
 * flush serves them all. Each still succeeds or fails on its own, and no
 * send is answered before its transaction is durable.
 */
export interface RelayStore {
  /**
   * The devices of the account named `username` and of the account
   * `accountId`, with the username of each device's account.
   */
  devicesOf(username: string, accountId: string): Promise<DeviceRow[]>

  /**
   * Stores envelopes, each at the end of its recipient device's queue. A
   * recipient removed meanwhile gets nothing: the result lists only what
   * was stored.
   * @param outgoing - at most one envelope per recipient device
   */
  enqueue(
    senderDeviceId: string,
    outgoing: OutgoingEnvelope[],
    now: number,
  ): Promise<StoredEnvelope[]>

  /** A device's queue after `afterSeq`, oldest first, at most `limit`. */
  read(deviceId: string, afterSeq: number, limit: number): Promise<WireEnvelope[]>

  /** Deletes envelopes from a device's queue. @returns how many were there */
  acknowledge(deviceId: string, seqs: number[]): Promise<number>

  /** The sequence number the device's next envelope gets; undefined when gone. */
  nextSeq(deviceId: string): Promise<number | undefined>

  /** How many one-time prekeys of each kind the device has left. */
  prekeyCounts(deviceId: string): Promise<{ ec: number; kem: number }>

  /** Records that a device was connected at `at`; written with the next batch. */
  markSeen(deviceId: string, at: number): void

  /** Deletes envelopes whose 30 days have passed. @returns how many */
  deleteExpired(now: number): Promise<number>

  close(): Promise<void>
}

export interface DeviceRow {
  id: string
  username: string
}

/** One envelope to store for one recipient device. */
export interface OutgoingEnvelope {
  recipientDeviceId: string
  content: Bytes
}

/** An envelope as stored: its queue position and server time. */
export interface StoredEnvelope extends WireEnvelope {
  recipientDeviceId: string
}

const RELAY_STORE = Symbol.for('tidings.relay-store')
type Holder = typeof globalThis & { [RELAY_STORE]?: RelayStore }

/**
 * The process's relay store, on the same database as Prisma's client (kept
 * on globalThis: the custom server and Next.js's route bundles share it).
 */
export function relayStore(): RelayStore {
  const holder = globalThis as Holder
  if (!holder[RELAY_STORE]) {
    const url = databaseUrl()
    holder[RELAY_STORE] =
      providerOf(url) === 'sqlite'
        ? new SqliteRelayStore(sqliteFilePath(url))
        : new PostgresRelayStore(url)
  }
  return holder[RELAY_STORE]
}

/** Closes the relay store (tests and shutdown). */
export async function closeRelayStore(): Promise<void> {
  const holder = globalThis as Holder
  const current = holder[RELAY_STORE]
  delete holder[RELAY_STORE]
  await current?.close()
}

/** An envelope as either driver reads it (PostgreSQL's bigint comes as text). */
export interface EnvelopeRow {
  seq: number
  senderDeviceId: string
  serverTimestamp: number | string
  content: Uint8Array
}

/** The wire form of a stored envelope: its bytes in base64. */
export function toWire({ seq, senderDeviceId, serverTimestamp, content }: EnvelopeRow) {
  return {
    seq,
    senderDeviceId,
    serverTimestamp: Number(serverTimestamp),
    content: Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString(
      'base64',
    ),
  } satisfies WireEnvelope
}

/** Counts by prekey kind from `SELECT "kind", count(*) AS "n" … GROUP BY "kind"`. */
export function countsByKind(rows: { kind: string; n: number | string }[]) {
  const counts = { ec: 0, kem: 0 }
  for (const row of rows) {
    if (row.kind === 'ec' || row.kind === 'kem') counts[row.kind] = Number(row.n)
  }
  return counts
}

/** Splits a batch's operations from their callers' promises. */
export interface Pending<T> {
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

/** A promise and the functions that settle it. */
export function pending<T>(): Pending<T> & { promise: Promise<T> } {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((yes, no) => {
    resolve = yes
    reject = no
  })
  return { promise, resolve, reject }
}
