import 'server-only'

import Database from 'better-sqlite3'

import { ENVELOPE_TTL_MS } from '@/lib/core/limits'
import type { WireEnvelope } from '@/lib/core/api'

import { logger } from '../log'
import { withDb } from './client'
import {
  countsByKind,
  pending,
  toWire,
  type EnvelopeRow,
  type DeviceRow,
  type OutgoingEnvelope,
  type Pending,
  type RelayStore,
  type StoredEnvelope,
} from './relay-store'

const log = logger('relay-store')

/**
 * How long the first write of a batch waits for others to join it. A
 * durable commit costs 60–100 µs of CPU here (the WAL's fsync) and blocks
 * the thread for about 200 µs, so committing each send alone would cost
 * as much as all the rest of it. Two milliseconds let two or three share
 * one at 1,000 sends a second; one millisecond cost about 20% more CPU
 * per envelope there for 0.3 ms less latency (npm run bench).
 */
const GROUP_COMMIT_MS = 2

type Operation =
  | ({
      kind: 'send'
      sender: string
      outgoing: OutgoingEnvelope[]
      now: number
    } & Pending<StoredEnvelope[]>)
  | ({ kind: 'ack'; deviceId: string; seqs: number[] } & Pending<number>)

/**
 * The relay store on the SQLite file, through its own connection.
 *
 * Prisma's connection and this one must not hold the write lock at the
 * same time: better-sqlite3 is synchronous, so waiting for the other would
 * stop the event loop that the other needs to finish. Each batch therefore
 * takes its turn in Prisma's queue of operations (`withDb`), and runs in
 * one synchronous step. Reads need no turn: in WAL mode they see the last
 * commit and never wait for writers.
 */
export class SqliteRelayStore implements RelayStore {
  readonly #db: Database.Database
  readonly #statements
  /** Runs one write in a savepoint of its own within the batch's transaction. */
  readonly #applyOne: (op: Operation) => StoredEnvelope[] | number
  /** Writes waiting for the next batch, and last-seen times by device. */
  #batch: Operation[] = []
  #seen = new Map<string, number>()
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Whether the connection is set to flush each commit to disk. */
  #durable: boolean | undefined

  constructor(file: string) {
    this.#db = new Database(file)
    // A writer in another process (a migration, an operator's sqlite3)
    // is waited for rather than failed on.
    this.#db.pragma('busy_timeout = 5000')
    this.#statements = prepare(this.#db)
    this.#applyOne = this.#db.transaction((op: Operation) => this.#apply(op))
    log.info({ file }, 'relay store opened on SQLite')
  }

  devicesOf(username: string, accountId: string): Promise<DeviceRow[]> {
    return Promise.resolve(this.#statements.devicesOf.all(username, accountId))
  }

  enqueue(sender: string, outgoing: OutgoingEnvelope[], now: number) {
    const op = pending<StoredEnvelope[]>()
    this.#add({ kind: 'send', sender, outgoing, now, ...op })
    return op.promise
  }

  read(deviceId: string, afterSeq: number, limit: number): Promise<WireEnvelope[]> {
    const rows = this.#statements.read.all(deviceId, afterSeq, limit)
    return Promise.resolve(rows.map(toWire))
  }

  acknowledge(deviceId: string, seqs: number[]): Promise<number> {
    const op = pending<number>()
    this.#add({ kind: 'ack', deviceId, seqs, ...op })
    return op.promise
  }

  nextSeq(deviceId: string): Promise<number | undefined> {
    return Promise.resolve(this.#statements.nextSeq.get(deviceId)?.nextSeq)
  }

  prekeyCounts(deviceId: string): Promise<{ ec: number; kem: number }> {
    return Promise.resolve(countsByKind(this.#statements.prekeyCounts.all(deviceId)))
  }

  markSeen(deviceId: string, at: number): void {
    this.#seen.set(deviceId, at)
    this.#schedule()
  }

  deleteExpired(now: number): Promise<number> {
    return withDb(() => Promise.resolve(this.#statements.deleteExpired.run(now).changes))
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer)
    await this.#flush()
    this.#db.close()
  }

  #add(op: Operation): void {
    this.#batch.push(op)
    this.#schedule()
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => void this.#flush(), GROUP_COMMIT_MS)
  }

  /** Commits everything waiting, in one transaction, in Prisma's queue. */
  async #flush(): Promise<void> {
    this.#timer = undefined
    const batch = this.#batch
    const seen = this.#seen
    this.#batch = []
    this.#seen = new Map()
    if (batch.length === 0 && seen.size === 0) return

    try {
      await withDb(() => Promise.resolve(this.#commit(batch, seen)))
    } catch (error) {
      // The transaction itself failed (disk full, file gone): nothing of
      // the batch was written, and every caller hears so.
      log.error({ err: error, writes: batch.length }, 'relay batch failed')
      for (const op of batch) op.reject(error)
    }
  }

  // Limitation: the commit and its fsync (0.2 ms typically here, tens of ms
  // at worst) run on the event loop's thread, which serves nothing else
  // meanwhile; it is most of the relay's time per envelope (npm run bench).
  // A worker thread owning the write connection would keep serving during
  // the flush, and batch what arrived meanwhile.
  #commit(batch: Operation[], seen: Map<string, number>): void {
    // Only an accepted send must survive a power cut before its answer;
    // a lost acknowledgement or last-seen time is redone by the client.
    const durable = batch.some((op) => op.kind === 'send')
    if (durable !== this.#durable) {
      this.#db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`)
      this.#durable = durable
    }

    const settle: (() => void)[] = []
    this.#db
      .transaction(() => {
        for (const op of batch) {
          // One write that fails is undone and answered alone; the others
          // commit. Answers wait for the commit.
          try {
            const result = this.#applyOne(op)
            settle.push(() => (op.resolve as (value: typeof result) => void)(result))
          } catch (error) {
            settle.push(() => op.reject(error))
          }
        }
        for (const [deviceId, at] of seen) {
          this.#statements.markSeen.run(prismaDateTime(at), deviceId)
        }
      })
      .immediate()
    for (const answer of settle) answer()
  }

  #apply(op: Operation): StoredEnvelope[] | number {
    const statements = this.#statements
    if (op.kind === 'ack') {
      return statements.acknowledge.run(op.deviceId, JSON.stringify(op.seqs)).changes
    }

    const stored: StoredEnvelope[] = []
    const expiresAt = op.now + ENVELOPE_TTL_MS
    for (const { recipientDeviceId, content } of op.outgoing) {
      const row = statements.takeSeq.get(recipientDeviceId)
      if (!row) continue // the device was removed since the sender's check
      statements.insert.run(
        recipientDeviceId,
        row.seq,
        op.sender,
        op.now,
        content,
        expiresAt,
      )
      stored.push({
        recipientDeviceId,
        ...toWire({
          seq: row.seq,
          senderDeviceId: op.sender,
          serverTimestamp: op.now,
          content,
        }),
      })
    }
    return stored
  }
}

/** Every statement, prepared once for the life of the connection. */
function prepare(db: Database.Database) {
  return {
    devicesOf: db.prepare<[string, string], DeviceRow>(
      // IN, not OR: an OR across the two columns would scan every account.
      `SELECT d."id", a."username" FROM "Account" a
       JOIN "Device" d ON d."accountId" = a."id"
       WHERE a."id" IN (SELECT "id" FROM "Account" WHERE "username" = ? UNION SELECT ?)`,
    ),
    takeSeq: db.prepare<[string], { seq: number }>(
      `UPDATE "Device" SET "nextSeq" = "nextSeq" + 1 WHERE "id" = ?
       RETURNING "nextSeq" - 1 AS "seq"`,
    ),
    insert: db.prepare<[string, number, string, number, Uint8Array, number]>(
      `INSERT INTO "Envelope" ("recipientDeviceId", "seq", "senderDeviceId",
         "serverTimestamp", "content", "expiresAt")
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    read: db.prepare<[string, number, number], EnvelopeRow>(
      `SELECT "seq", "senderDeviceId", "serverTimestamp", "content" FROM "Envelope"
       WHERE "recipientDeviceId" = ? AND "seq" > ? ORDER BY "seq" LIMIT ?`,
    ),
    acknowledge: db.prepare<[string, string]>(
      `DELETE FROM "Envelope" WHERE "recipientDeviceId" = ?
       AND "seq" IN (SELECT "value" FROM json_each(?))`,
    ),
    nextSeq: db.prepare<[string], { nextSeq: number }>(
      'SELECT "nextSeq" FROM "Device" WHERE "id" = ?',
    ),
    prekeyCounts: db.prepare<[string], { kind: string; n: number }>(
      `SELECT "kind", count(*) AS "n" FROM "OneTimePrekey"
       WHERE "deviceId" = ? GROUP BY "kind"`,
    ),
    markSeen: db.prepare<[string, string]>(
      'UPDATE "Device" SET "lastSeenAt" = ? WHERE "id" = ?',
    ),
    deleteExpired: db.prepare<[number]>('DELETE FROM "Envelope" WHERE "expiresAt" < ?'),
  }
}

/** A DateTime as Prisma's SQLite adapter writes it (ISO 8601 with an offset). */
function prismaDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00')
}
