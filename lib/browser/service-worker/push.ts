/**
 * What the service worker does when a push wakes it and no page is open:
 * take the device's session lock, store the envelope the push carried and
 * everything else waiting in the device's queue (decrypted, in the same
 * transactions as the page uses), show a notification per conversation,
 * acknowledge, and send the delivery receipts. The page, when it opens,
 * finds it all in IndexedDB.
 */
import type { WireEnvelope } from '@/lib/core/api'
import type { PushPayload } from '@/lib/core/push'

import { database, type LocalDevice } from '../db'
import { deviceRelay } from '../device-relay'
import { logger } from '../log'
import { Outbox } from '../outbox'
import { receiveEnvelopes, type Received } from '../receiver'
import type { RelayClient } from '../relay-client'

declare const self: ServiceWorkerGlobalScope

const log = logger('push')

/** Envelopes asked for at a time from the queue. */
const QUEUE_PAGE = 100

/** Tag of the notification shown when a push brought nothing to show. */
const QUIET_TAG = 'tidings:checked'

type NewMessage = Received['messages'][number]

/**
 * Handles one push. Resolves when everything is stored, shown and
 * acknowledged, or has failed in a way the page will retry on opening.
 */
export async function handlePush(payload: PushPayload): Promise<void> {
  const device = await (await database()).get('device', 'self')
  if (!device || device.removedAt) {
    await self.registration.showNotification('Tidings', {
      body: 'Open Tidings to see what is new.',
      tag: QUIET_TAG,
    })
    return
  }

  const { relay, directory } = deviceRelay(device)
  const seqs: number[] = []
  let shown = 0
  const take = async (envelopes: WireEnvelope[]) => {
    const received = await receiveEnvelopes(device, directory, envelopes)
    seqs.push(...received.seqs)
    shown += await notify(device, received.messages)
  }

  try {
    // The envelope in the push first: it can be shown before any request.
    if ('envelope' in payload) await take([payload.envelope])
    await forEachQueuePage(relay, take)
  } catch (error) {
    log.warn('push: receiving stopped', { error: (error as Error).name })
  }

  // Chrome shows its own "updated in the background" line, and Safari
  // withdraws the subscription, when a push ends with nothing shown.
  if (shown === 0 && !(await somethingShown())) {
    await self.registration.showNotification('Tidings', {
      body: 'No new messages.',
      tag: QUIET_TAG,
      silent: true,
    })
  }
  // An open page of this device (another tab) shows what was stored.
  const channel = new BroadcastChannel('tidings')
  channel.postMessage('changed')
  channel.close()

  await acknowledge(relay, seqs)
  await new Outbox(device, relay, directory, () => undefined).sendQueued()
}

/** Reads the device's queue page by page, handing each to `take`. */
async function forEachQueuePage(
  relay: RelayClient,
  take: (envelopes: WireEnvelope[]) => Promise<void>,
): Promise<void> {
  for (let after = 0; ;) {
    const { envelopes } = await relay.queue(after, QUEUE_PAGE)
    if (envelopes.length === 0) return
    await take(envelopes)
    after = envelopes[envelopes.length - 1].seq
    if (envelopes.length < QUEUE_PAGE) return
  }
}

async function acknowledge(relay: RelayClient, seqs: number[]): Promise<void> {
  const unique = [...new Set(seqs)]
  try {
    for (let start = 0; start < unique.length; start += 1000) {
      await relay.ack(unique.slice(start, start + 1000))
    }
  } catch (error) {
    // Stored already: the page acknowledges them when it next connects.
    log.info('push: ack postponed', { error: (error as Error).name })
  }
}

/**
 * Shows one notification per conversation with new messages, replacing the
 * one it had (same tag) and counting what it said before.
 * @returns how many notifications it showed
 */
async function notify(device: LocalDevice, messages: NewMessage[]): Promise<number> {
  // Shown even when the app is in front (the relay pushes only to a device
  // with no open stream, so that is a rare race): Safari withdraws the
  // subscription of a site whose pushes show nothing.
  if (messages.length === 0) return 0
  const previews = device.notifications?.previews ?? true

  const byConversation = new Map<string, NewMessage[]>()
  for (const message of messages) {
    byConversation.set(message.conversation, [
      ...(byConversation.get(message.conversation) ?? []),
      message,
    ])
  }

  for (const [conversation, news] of byConversation) {
    const tag = `chat:${conversation}`
    const earlier = await self.registration.getNotifications({ tag })
    const count = news.length + (readCount(earlier[0]?.data) ?? 0)
    const last = news[news.length - 1]
    const title = previews ? conversation : 'Tidings'
    const body = previews
      ? last.body
      : count === 1
        ? 'New message'
        : `${count} new messages`
    const options = {
      body,
      tag,
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      data: { conversation, count },
      // Replacing the chat's notification alerts again, as a new message should.
      renotify: true,
    }
    await self.registration.showNotification(
      previews && count > 1 ? `${title} (${count} messages)` : title,
      options,
    )
  }
  return byConversation.size
}

function readCount(data: unknown): number | null {
  const count = (data as { count?: unknown } | null)?.count
  return typeof count === 'number' ? count : null
}

async function somethingShown(): Promise<boolean> {
  return (await self.registration.getNotifications()).length > 0
}
