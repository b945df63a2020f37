import 'server-only'

import type { WireEnvelope } from '@/lib/core/api'

import { relayStore, type OutgoingEnvelope, type StoredEnvelope } from '../db/relay-store'

export type { OutgoingEnvelope, StoredEnvelope }

/**
 * Stores a message's envelopes, each at the end of its recipient device's
 * queue, in one transaction (shared with whatever else is being written at
 * that moment). Nothing is visible to any stream before the commit, and a
 * queue's envelopes become visible in sequence order.
 *
 * A device removed between the caller's check and this write gets nothing;
 * the result lists only what was stored.
 * @param outgoing - at most one envelope per recipient device
 */
export function enqueue(
  senderDeviceId: string,
  outgoing: OutgoingEnvelope[],
  now = Date.now(),
): Promise<StoredEnvelope[]> {
  // Limitation: a recipient queue has no size cap; a sender within its rate
  // limit can fill a queue for 30 days.
  const ids = outgoing.map((envelope) => envelope.recipientDeviceId)
  if (new Set(ids).size !== ids.length) {
    throw new Error('enqueue: at most one envelope per recipient device')
  }
  return relayStore().enqueue(senderDeviceId, outgoing, now)
}

/** Reads a device's queue after `afterSeq`, oldest first, at most `limit`. */
export function readQueue(
  deviceId: string,
  afterSeq: number,
  limit: number,
): Promise<WireEnvelope[]> {
  return relayStore().read(deviceId, afterSeq, limit)
}

/**
 * Deletes acknowledged envelopes from the device's own queue.
 * @returns how many were deleted (already-deleted ones are not an error)
 */
export function acknowledge(deviceId: string, seqs: number[]): Promise<number> {
  return relayStore().acknowledge(deviceId, seqs)
}

/** Deletes envelopes past their 30 days. @returns how many */
export function deleteExpired(now = Date.now()): Promise<number> {
  return relayStore().deleteExpired(now)
}
