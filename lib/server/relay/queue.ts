import 'server-only'

import { toBase64, type Bytes } from '@/lib/core/bytes'
import { ENVELOPE_TTL_MS } from '@/lib/core/limits'
import type { WireEnvelope } from '@/lib/core/api'

import { withDb } from '../db/client'
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
 * hands out its next sequence numbers, then all envelopes are inserted.
 * Nothing is visible to any stream before the commit.
 */
export async function enqueue(
  senderDeviceId: string,
  outgoing: OutgoingEnvelope[],
  now = Date.now(),
): Promise<StoredEnvelope[]> {
  const counts = new Map<string, number>()
  for (const { recipientDeviceId } of outgoing) {
    counts.set(recipientDeviceId, (counts.get(recipientDeviceId) ?? 0) + 1)
  }

  return withDb((db) =>
    db.$transaction(async (tx) => {
      // One statement reserves sequence numbers for every recipient queue.
      const ids = [...counts.keys()]
      const cases = Prisma.join(
        ids.map((id) => Prisma.sql`WHEN ${id} THEN ${counts.get(id)}`),
        ' ',
      )
      const reserved = await tx.$queryRaw<{ id: string; nextSeq: bigint | number }[]>`
        UPDATE "Device" SET "nextSeq" = "nextSeq" + CASE "id" ${cases} END
        WHERE "id" IN (${Prisma.join(ids)})
        RETURNING "id", "nextSeq"`

      const next = new Map(
        reserved.map((row) => [row.id, Number(row.nextSeq) - (counts.get(row.id) ?? 0)]),
      )
      const stored = outgoing.map(({ recipientDeviceId, content }) => {
        const seq = next.get(recipientDeviceId)
        if (seq === undefined) throw new Error(`enqueue: device vanished mid-send`)
        next.set(recipientDeviceId, seq + 1)
        return { recipientDeviceId, seq, content }
      })

      await tx.envelope.createMany({
        data: stored.map((envelope) => ({
          ...envelope,
          senderDeviceId,
          serverTimestamp: BigInt(now),
          expiresAt: BigInt(now + ENVELOPE_TTL_MS),
        })),
      })

      return stored.map(({ recipientDeviceId, seq, content }) => ({
        recipientDeviceId,
        seq,
        senderDeviceId,
        serverTimestamp: now,
        content: toBase64(content),
      }))
    }),
  )
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
