import 'server-only'

import { createHash } from 'node:crypto'

import webpush, { WebPushError } from 'web-push'

import { toBase64Url } from '@/lib/core/bytes'
import { pushPayload } from '@/lib/core/push'
import type { WireEnvelope } from '@/lib/core/api'

import { logger, redactId } from '../log'
import {
  dropExpiredSubscription,
  subscriptionsOf,
  type StoredSubscription,
} from './subscriptions'
import { vapid } from './vapid'

const log = logger('push')

/** How long a push service keeps an undelivered push: its maximum, 4 weeks. */
const PUSH_TTL_SECONDS = 28 * 24 * 60 * 60

/** Longest wait for a push service's answer. */
const PUSH_TIMEOUT_MS = 10_000

/** An envelope stored for a device that has no open stream. */
export interface Waiting extends WireEnvelope {
  recipientDeviceId: string
}

/**
 * Wakes the devices that just got an envelope but have no stream open, by
 * Web Push to their subscriptions: the envelope itself when it fits in a
 * push, otherwise a wake-up that makes the service worker fetch the queue.
 *
 * Never throws: the envelopes are stored whatever the push services say,
 * and a device that is not woken gets them on its next connection.
 *
 * @param senderAccountId - with the recipient device, names the push topic:
 *   a later push from the same account replaces an undelivered earlier one
 *   (the service worker fetches the whole queue anyway)
 */
export async function wakeDevices(
  senderAccountId: string,
  waiting: Waiting[],
): Promise<void> {
  const keys = vapid()
  if (!keys || waiting.length === 0) return

  let subscriptions: StoredSubscription[]
  try {
    subscriptions = await subscriptionsOf(waiting.map((item) => item.recipientDeviceId))
  } catch (error) {
    log.error({ err: error }, 'push subscriptions could not be read')
    return
  }

  const byDevice = new Map(waiting.map((item) => [item.recipientDeviceId, item]))
  await Promise.all(
    subscriptions.flatMap((subscription) => {
      const item = byDevice.get(subscription.deviceId)
      if (!item) return []
      const { recipientDeviceId, ...envelope } = item
      return push(subscription, pushPayload(envelope), {
        TTL: PUSH_TTL_SECONDS,
        urgency: 'high',
        topic: topicFor(senderAccountId, recipientDeviceId),
        contentEncoding: 'aes128gcm',
        timeout: PUSH_TIMEOUT_MS,
        vapidDetails: keys,
      })
    }),
  )
}

async function push(
  subscription: StoredSubscription,
  payload: string,
  options: webpush.RequestOptions,
): Promise<void> {
  const device = redactId(subscription.deviceId)
  const target = {
    endpoint: subscription.endpoint,
    keys: {
      p256dh: toBase64Url(subscription.p256dh),
      auth: toBase64Url(subscription.auth),
    },
  }

  try {
    const result = await webpush.sendNotification(target, payload, options)
    log.debug({ device, status: result.statusCode, bytes: payload.length }, 'push sent')
  } catch (error) {
    // The error carries the endpoint, a capability URL: log only its status.
    if (error instanceof WebPushError) {
      if (error.statusCode === 404 || error.statusCode === 410) {
        await dropExpiredSubscription(subscription.deviceId, subscription.endpoint).catch(
          () => undefined,
        )
        return
      }
      log.warn({ device, status: error.statusCode }, 'push refused by the push service')
      return
    }
    // Limitation: a push that fails (push service down, timeout) is not
    // retried; the envelope waits in the queue until the device connects
    // or the next message to it is pushed.
    const code = (error as { code?: unknown }).code
    log.warn(
      { device, error: typeof code === 'string' ? code : 'unknown' },
      'push failed',
    )
  }
}

/**
 * A push topic (at most 32 URL-safe base64 characters) per sender account
 * and recipient device: the push service learns no names from it.
 */
function topicFor(senderAccountId: string, recipientDeviceId: string): string {
  const digest = createHash('sha256')
    .update(`${senderAccountId}\n${recipientDeviceId}`)
    .digest()
  return toBase64Url(digest).slice(0, 32)
}
