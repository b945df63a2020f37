import 'server-only'

import pg from 'pg'

import { ENVELOPE_TTL_MS } from '@/lib/core/limits'
import type { WireEnvelope } from '@/lib/core/api'

import { logger } from '../log'
import { isTransient } from './errors'
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

/** Connections of the relay's own pool, beside Prisma's. */
const POOL_SIZE = 4

/** Tries of a batch that PostgreSQL aborted as a deadlock or serialization failure. */
const TRIES = 3

interface Send extends Pending<StoredEnvelope[]> {
  sender: string
  outgoing: OutgoingEnvelope[]
  now: number
}

interface Ack extends Pending<number> {
  deviceId: string
  seqs: number[]
}

interface Batch {
  sends: Send[]
  acks: Ack[]
  seen: Map<string, number>
}

const emptyBatch = (): Batch => ({ sends: [], acks: [], seen: new Map() })

/**
 * The relay store on PostgreSQL, through a pool of its own.
 *
 * One batch is in flight at a time; whatever arrives meanwhile forms the
 * next, so batches grow with the load and cost no wait when it is light.
 * A batch is one transaction of a few array-valued statements, whatever
 * its size. It locks the recipients' queue heads in id order, so batches
 * of several instances wait for one another instead of deadlocking.
 */
export class PostgresRelayStore implements RelayStore {
  readonly #pool: pg.Pool
  #next = emptyBatch()
  #flushing: Promise<void> | null = null

  constructor(url: string) {
    this.#pool = new pg.Pool({ connectionString: url, max: POOL_SIZE })
    this.#pool.on('error', (error) => log.error({ err: error }, 'idle connection failed'))
  }

  async devicesOf(username: string, accountId: string): Promise<DeviceRow[]> {
    const { rows } = await this.#pool.query<DeviceRow>(
      // IN, not OR: an OR across the two columns would scan every account.
      `SELECT d."id", a."username" FROM "Account" a
       JOIN "Device" d ON d."accountId" = a."id"
       WHERE a."id" IN (SELECT "id" FROM "Account" WHERE "username" = $1 UNION SELECT $2)`,
      [username, accountId],
    )
    return rows
  }

  enqueue(sender: string, outgoing: OutgoingEnvelope[], now: number) {
    const op = pending<StoredEnvelope[]>()
    this.#next.sends.push({ sender, outgoing, now, ...op })
    this.#kick()
    return op.promise
  }

  async read(deviceId: string, afterSeq: number, limit: number): Promise<WireEnvelope[]> {
    const { rows } = await this.#pool.query<EnvelopeRow>(
      `SELECT "seq", "senderDeviceId", "serverTimestamp", "content" FROM "Envelope"
       WHERE "recipientDeviceId" = $1 AND "seq" > $2 ORDER BY "seq" LIMIT $3`,
      [deviceId, afterSeq, limit],
    )
    return rows.map(toWire)
  }

  acknowledge(deviceId: string, seqs: number[]): Promise<number> {
    const op = pending<number>()
    this.#next.acks.push({ deviceId, seqs, ...op })
    this.#kick()
    return op.promise
  }

  async nextSeq(deviceId: string): Promise<number | undefined> {
    const { rows } = await this.#pool.query<{ nextSeq: number }>(
      'SELECT "nextSeq" FROM "Device" WHERE "id" = $1',
      [deviceId],
    )
    return rows[0]?.nextSeq
  }

  async prekeyCounts(deviceId: string): Promise<{ ec: number; kem: number }> {
    const { rows } = await this.#pool.query<{ kind: string; n: string }>(
      `SELECT "kind", count(*) AS "n" FROM "OneTimePrekey"
       WHERE "deviceId" = $1 GROUP BY "kind"`,
      [deviceId],
    )
    return countsByKind(rows)
  }

  markSeen(deviceId: string, at: number): void {
    this.#next.seen.set(deviceId, at)
    this.#kick()
  }

  async deleteExpired(now: number): Promise<number> {
    const result = await this.#pool.query(
      'DELETE FROM "Envelope" WHERE "expiresAt" < $1',
      [now],
    )
    return result.rowCount ?? 0
  }

  async close(): Promise<void> {
    while (this.#flushing) await this.#flushing
    await this.#pool.end()
  }

  /** Starts a batch unless one is in flight; that one starts the next. */
  #kick(): void {
    if (this.#flushing) return
    this.#flushing = (async () => {
      // Let the writes of this turn of the event loop join.
      await new Promise((resolve) => setImmediate(resolve))
      while (!isEmpty(this.#next)) {
        const batch = this.#next
        this.#next = emptyBatch()
        await this.#commit(batch)
      }
      this.#flushing = null
    })()
  }

  async #commit(batch: Batch): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { stored, deleted } = await this.#transaction(batch)
        batch.sends.forEach((send, i) => send.resolve(stored[i] ?? []))
        batch.acks.forEach((ack, i) => ack.resolve(deleted[i] ?? 0))
        return
      } catch (error) {
        if (isTransient(error) && attempt < TRIES) continue
        if (batch.sends.length + batch.acks.length > 1 && !isTransient(error)) {
          // Something in the batch is refused: each write alone, so only it fails.
          log.warn({ err: error }, 'relay batch refused; writing one by one')
          const { seen } = batch
          for (const send of batch.sends)
            await this.#commit({ ...emptyBatch(), sends: [send] })
          for (const ack of batch.acks)
            await this.#commit({ ...emptyBatch(), acks: [ack] })
          if (seen.size > 0) await this.#commit({ ...emptyBatch(), seen })
          return
        }
        log.error({ err: error }, 'relay batch failed')
        for (const op of [...batch.sends, ...batch.acks]) op.reject(error)
        return
      }
    }
  }

  /** One transaction for a whole batch; answers per send and per acknowledgement. */
  async #transaction(batch: Batch) {
    const client = await this.#pool.connect()
    try {
      await client.query('BEGIN')
      const stored = await this.#store(client, batch.sends)
      const deleted = await this.#delete(client, batch.acks)
      if (batch.seen.size > 0) {
        const ids = [...batch.seen.keys()]
        const times = ids.map((id) => new Date(batch.seen.get(id) ?? 0).toISOString())
        await client.query(
          `UPDATE "Device" d SET "lastSeenAt" = s.at
           FROM unnest($1::text[], $2::timestamp[]) AS s(id, at) WHERE d."id" = s.id`,
          [ids, times],
        )
      }
      await client.query('COMMIT')
      return { stored, deleted }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    } finally {
      client.release()
    }
  }

  /** Takes each envelope's sequence number in its queue, then inserts them all. */
  async #store(client: pg.PoolClient, sends: Send[]): Promise<StoredEnvelope[][]> {
    if (sends.length === 0) return []
    const taken = new Map<string, number>()
    for (const send of sends) {
      for (const { recipientDeviceId } of send.outgoing) {
        taken.set(recipientDeviceId, (taken.get(recipientDeviceId) ?? 0) + 1)
      }
    }
    const ids = [...taken.keys()].sort()
    await client.query(
      `SELECT "id" FROM "Device" WHERE "id" = ANY($1::text[]) ORDER BY "id"
       FOR NO KEY UPDATE`,
      [ids],
    )
    const { rows } = await client.query<{ id: string; nextSeq: number }>(
      `UPDATE "Device" d SET "nextSeq" = d."nextSeq" + t.n
       FROM unnest($1::text[], $2::int[]) AS t(id, n) WHERE d."id" = t.id
       RETURNING d."id", d."nextSeq"`,
      [ids, ids.map((id) => taken.get(id))],
    )
    // The first number each queue handed out; devices removed meanwhile have none.
    const nextOf = new Map(
      rows.map((row) => [row.id, row.nextSeq - (taken.get(row.id) ?? 0)]),
    )

    // The rows to insert, column by column (unnest takes one array each).
    const columns = {
      devices: [] as string[],
      seqs: [] as number[],
      senders: [] as string[],
      times: [] as number[],
      contents: [] as Buffer[],
    }
    const stored = sends.map((send) =>
      send.outgoing.flatMap(({ recipientDeviceId, content }) => {
        const seq = nextOf.get(recipientDeviceId)
        if (seq === undefined) return []
        nextOf.set(recipientDeviceId, seq + 1)
        columns.devices.push(recipientDeviceId)
        columns.seqs.push(seq)
        columns.senders.push(send.sender)
        columns.times.push(send.now)
        columns.contents.push(
          Buffer.from(content.buffer, content.byteOffset, content.byteLength),
        )
        const row = {
          seq,
          senderDeviceId: send.sender,
          serverTimestamp: send.now,
          content,
        }
        return [{ recipientDeviceId, ...toWire(row) }]
      }),
    )
    if (columns.contents.length > 0) {
      await client.query(
        `INSERT INTO "Envelope" ("recipientDeviceId", "seq", "senderDeviceId",
           "serverTimestamp", "content", "expiresAt")
         SELECT d, s, f, t, c, t + $6 FROM
           unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::bytea[])
           AS e(d, s, f, t, c)`,
        [
          columns.devices,
          columns.seqs,
          columns.senders,
          columns.times,
          columns.contents,
          ENVELOPE_TTL_MS,
        ],
      )
    }
    return stored
  }

  /** Deletes acknowledged envelopes; how many of each acknowledgement were there. */
  async #delete(client: pg.PoolClient, acks: Ack[]): Promise<number[]> {
    if (acks.length === 0) return []
    const devices = acks.flatMap((ack) => ack.seqs.map(() => ack.deviceId))
    const seqs = acks.flatMap((ack) => ack.seqs)
    const { rows } = await client.query<{ d: string; s: number }>(
      `DELETE FROM "Envelope" e USING unnest($1::text[], $2::int[]) AS a(d, s)
       WHERE e."recipientDeviceId" = a.d AND e."seq" = a.s
       RETURNING e."recipientDeviceId" AS d, e."seq" AS s`,
      [devices, seqs],
    )
    const gone = new Set(rows.map((row) => `${row.d} ${row.s}`))
    return acks.map(
      (ack) => ack.seqs.filter((seq) => gone.has(`${ack.deviceId} ${seq}`)).length,
    )
  }
}

function isEmpty(batch: Batch): boolean {
  return batch.sends.length === 0 && batch.acks.length === 0 && batch.seen.size === 0
}
