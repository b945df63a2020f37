import 'server-only'

import type { z } from 'zod'

import type { pushSubscriptionRequest } from '@/lib/core/api'

import { deviceRemoved } from '../auth/credentials'
import { withDb } from '../db/client'
import { isGone } from '../db/errors'
import { logger, redactId } from '../log'

const log = logger('push')

/** A device's push subscription, as stored. */
export interface StoredSubscription {
  deviceId: string
  endpoint: string
  p256dh: Uint8Array
  auth: Uint8Array
}

/**
 * Keeps a device's subscription, replacing the one it had.
 *
 * Limitation: the endpoint may be any https URL, not only a known push
 * service's (Google, Mozilla, Apple, Microsoft): a device can make the relay
 * post about 4 KB of ciphertext to a host of its choosing once per message
 * sent to it. An operator's allow-list of push hosts would close this; the
 * tests' push service runs on 127.0.0.1, so none is built in.
 */
export async function saveSubscription(
  deviceId: string,
  subscription: z.output<typeof pushSubscriptionRequest>,
): Promise<void> {
  const data = {
    endpoint: subscription.endpoint,
    p256dh: subscription.keys.p256dh,
    auth: subscription.keys.auth,
  }
  try {
    await withDb((db) =>
      db.pushSubscription.upsert({
        where: { deviceId },
        create: { deviceId, ...data },
        update: data,
      }),
    )
  } catch (error) {
    if (isGone(error)) throw deviceRemoved()
    throw error
  }
  log.info({ device: redactId(deviceId) }, 'push subscription saved')
}

/** Forgets a device's subscription (the device turned notifications off). */
export async function deleteSubscription(deviceId: string): Promise<boolean> {
  const { count } = await withDb((db) =>
    db.pushSubscription.deleteMany({ where: { deviceId } }),
  )
  return count > 0
}

/**
 * Forgets a subscription the push service says is gone (404, 410), unless
 * the device has registered another one meanwhile.
 */
export async function dropExpiredSubscription(
  deviceId: string,
  endpoint: string,
): Promise<void> {
  await withDb((db) => db.pushSubscription.deleteMany({ where: { deviceId, endpoint } }))
  log.info({ device: redactId(deviceId) }, 'push subscription expired, deleted')
}

/** The subscriptions of some devices (those that have one). */
export async function subscriptionsOf(
  deviceIds: string[],
): Promise<StoredSubscription[]> {
  if (deviceIds.length === 0) return []
  return await withDb((db) =>
    db.pushSubscription.findMany({
      where: { deviceId: { in: deviceIds } },
      select: { deviceId: true, endpoint: true, p256dh: true, auth: true },
    }),
  )
}
