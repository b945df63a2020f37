import 'server-only'

import { toBase64, type Bytes } from '@/lib/core/bytes'
import { ENVELOPE_TTL_MS } from '@/lib/core/limits'
import type { WireEnvelope } from '@/lib/core/api'

import { storeProvider, withDb } from '../db/client'
import { Prisma } from '../db/generated/sqlite/client'

/** One envelope to store for one recipient device. */
export interface OutgoingEnvelope {
  recipientDeviceId: string
  content: Bytes
}

/** An envelope as stored: its queue position and server time. */
export interface StoredEnvelope extends WireEnvelope {
  recipientDeviceId: string
}

/**
 * Stores a message's envelopes in one transaction: each recipient queue
 * advances its sequence, then each envelope takes the number its queue
 * handed out. Nothing is visible to any stream before the commit. The
 * update comes first so that, on PostgreSQL, it holds each queue's row lock
 * until the commit and two sends never take the same number.
 *
 * A device removed between the caller's check and this write gets nothing;
 * the result lists only what was stored.
 * @param outgoing - at most one envelope per recipient device
 */
export async function enqueue(
  senderDeviceId: string,
  outgoing: OutgoingEnvelope[],
  now = Date.now(),
): Promise<StoredEnvelope[]> {
  // Limitation: a recipient queue has no size cap; a sender within its rate
  // limit can fill a queue for 30 days. A per-queue cap with 429 belongs to
  // the reliability issue's limits work.
  const ids = outgoing.map((envelope) => envelope.recipientDeviceId)
  if (new Set(ids).size !== ids.length) {
    throw new Error('enqueue: at most one envelope per recipient device')
  }
  const timestamp = BigInt(now)
  const expiresAt = BigInt(now + ENVELOPE_TTL_MS)

  // A batch transaction: several times cheaper than an interactive one here.
  // On PostgreSQL the queues' rows are locked first, in id order, so two
  // sends with overlapping recipients wait for each other instead of
  // deadlocking. (SQLite has one writer at a time.)
  const lockInOrder = storeProvider() === 'postgresql'
  const results = await withDb((db) =>
    db.$transaction([
      ...(lockInOrder
        ? [
            db.$queryRaw`
              SELECT "id" FROM "Device" WHERE "id" IN (${Prisma.join(ids)})
              ORDER BY "id" FOR NO KEY UPDATE`,
          ]
        : []),
      db.$executeRaw`
        UPDATE "Device" SET "nextSeq" = "nextSeq" + 1
        WHERE "id" IN (${Prisma.join(ids)})`,
      ...outgoing.map(
        ({ recipientDeviceId, content }) => db.$queryRaw<{ seq: number | bigint }[]>`
          INSERT INTO "Envelope"
            ("recipientDeviceId", "seq", "senderDeviceId",
             "serverTimestamp", "content", "expiresAt")
          SELECT "id", "nextSeq" - 1, ${senderDeviceId}, ${timestamp}, ${content}, ${expiresAt}
          FROM "Device" WHERE "id" = ${recipientDeviceId}
          RETURNING "seq"`,
      ),
    ]),
  )

  const first = lockInOrder ? 2 : 1
  const stored: StoredEnvelope[] = []
  outgoing.forEach(({ recipientDeviceId, content }, index) => {
    const row = (results[index + first] as { seq: number | bigint }[])[0]
    if (!row) return
    stored.push({
      recipientDeviceId,
      seq: Number(row.seq),
      senderDeviceId,
      serverTimestamp: now,
      content: toBase64(content),
    })
  })
  return stored
}

/** Reads a device's queue after `afterSeq`, oldest first, at most `limit`. */
export async function readQueue(
  deviceId: string,
  afterSeq: number,
  limit: number,
): Promise<WireEnvelope[]> {
  const rows = await withDb((db) =>
    db.envelope.findMany({
      where: { recipientDeviceId: deviceId, seq: { gt: afterSeq } },
      orderBy: { seq: 'asc' },
      take: limit,
      select: { seq: true, senderDeviceId: true, serverTimestamp: true, content: true },
    }),
  )
  return rows.map((row) => ({
    seq: row.seq,
    senderDeviceId: row.senderDeviceId,
    serverTimestamp: Number(row.serverTimestamp),
    content: toBase64(row.content),
  }))
}

/**
 * Deletes acknowledged envelopes from the device's own queue.
 * @returns how many were deleted (already-deleted ones are not an error)
 */
export async function acknowledge(deviceId: string, seqs: number[]): Promise<number> {
  const { count } = await withDb((db) =>
    db.envelope.deleteMany({ where: { recipientDeviceId: deviceId, seq: { in: seqs } } }),
  )
  return count
}

/** Deletes envelopes past their 30 days. @returns how many */
export async function deleteExpired(now = Date.now()): Promise<number> {
  const { count } = await withDb((db) =>
    db.envelope.deleteMany({ where: { expiresAt: { lt: BigInt(now) } } }),
  )
  return count
}
