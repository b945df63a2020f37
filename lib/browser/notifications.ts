/**
 * Notifications while Tidings is closed: the service worker, the browser's
 * push subscription, and its registration with the relay. The relay sends a
 * push only to a device whose subscription it holds, and the service worker
 * (service-worker/push.ts) turns each push into a notification.
 */
import { fromBase64Url } from '@/lib/core/bytes'

import { database } from './db'
import { logger } from './log'
import { UserFacingError } from './user-facing-error'
import { RelayClient } from './relay-client'

const log = logger('notifications')

/** How long the browser's push service gets to hand out a subscription. */
const SUBSCRIBE_TIMEOUT_MS = 15_000

/** What the settings show. */
export type NotificationSetting =
  /** This browser has no service worker, Push API or notifications. */
  | { state: 'unsupported' }
  /** The relay sends no pushes (it has no VAPID keys). */
  | { state: 'unavailable' }
  /** The person (or the browser) refused notifications for this site. */
  | { state: 'blocked' }
  | { state: 'off' }
  | { state: 'on'; previews: boolean }

function supported(): boolean {
  return (
    'serviceWorker' in navigator &&
    'PushManager' in globalThis &&
    'Notification' in globalThis
  )
}

/**
 * Registers the service worker, and calls `onUpdate` when a newer version
 * of the app has installed and waits; calling the function it is given
 * lets that version take over and reloads the page into it.
 */
export function registerServiceWorker(onUpdate: (apply: () => void) => void): void {
  if (!('serviceWorker' in navigator)) return
  const apply = (waiting: ServiceWorker) => () => {
    navigator.serviceWorker.addEventListener(
      'controllerchange',
      () => location.reload(),
      {
        once: true,
      },
    )
    waiting.postMessage({ kind: 'skip-waiting' })
  }

  navigator.serviceWorker
    .register('/sw.js', { scope: '/', updateViaCache: 'none' })
    .then((registration) => {
      // A worker that installed while no page looked waits already.
      if (registration.waiting && navigator.serviceWorker.controller) {
        onUpdate(apply(registration.waiting))
      }
      registration.addEventListener('updatefound', () => {
        const installing = registration.installing
        installing?.addEventListener('statechange', () => {
          // The first worker takes over by itself; only a new version waits.
          if (installing.state === 'installed' && navigator.serviceWorker.controller) {
            onUpdate(apply(installing))
          }
        })
      })
    })
    .catch((error: unknown) => {
      log.warn('service worker not registered', { error: (error as Error).name })
    })
}

/** Whether notifications are on for this device, for the settings. */
export async function notificationSetting(): Promise<NotificationSetting> {
  if (!supported()) return { state: 'unsupported' }
  if (Notification.permission === 'denied') return { state: 'blocked' }
  const device = await (await database()).get('device', 'self')
  const saved = device?.notifications
  if (Notification.permission === 'granted' && saved?.endpoint) {
    return { state: 'on', previews: saved.previews }
  }
  return (await relayPushKey()) === null ? { state: 'unavailable' } : { state: 'off' }
}

let pushKey: Promise<string | null | undefined> | undefined

/**
 * The relay's VAPID key, asked once per page: null when the relay has no
 * Web Push, undefined when it could not be asked (offline).
 */
function relayPushKey(): Promise<string | null | undefined> {
  pushKey ??= RelayClient.pushKey().then(
    ({ publicKey }) => publicKey,
    () => {
      pushKey = undefined
      return undefined
    },
  )
  return pushKey
}

/**
 * Turns notifications on: asks the person (call it from a click: Safari
 * asks only then), subscribes with the relay's VAPID key and registers the
 * subscription with the relay.
 * @throws {UserFacingError} saying why it could not
 */
export async function turnOnNotifications(relay: RelayClient): Promise<void> {
  if (!supported()) {
    throw new UserFacingError('This browser cannot show notifications from Tidings.')
  }
  const permission = await Notification.requestPermission()
  if (permission !== 'granted') {
    throw new UserFacingError(
      'Notifications are blocked for this site. Allow them in the browser’s site settings.',
    )
  }
  await registerSubscription(relay, true)
}

/**
 * Keeps the relay's copy of the subscription current, on every start while
 * notifications are on: the browser may have renewed the subscription, and
 * the relay drops one its push service called expired.
 */
export async function keepSubscription(relay: RelayClient): Promise<void> {
  if ((await notificationSetting()).state !== 'on') return
  await registerSubscription(relay, false).catch((error: unknown) => {
    log.info('push subscription not refreshed', { error: (error as Error).name })
  })
}

async function registerSubscription(relay: RelayClient, fresh: boolean): Promise<void> {
  const publicKey = await relayPushKey()
  if (publicKey === undefined) {
    throw new UserFacingError('The server cannot be reached. Try again when online.')
  }
  if (publicKey === null) {
    throw new UserFacingError('This server does not send notifications.')
  }

  const registration = await navigator.serviceWorker.ready
  let subscription = await registration.pushManager.getSubscription()
  const key = fromBase64Url(publicKey)
  if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
    // Made for another VAPID key (the relay's keys changed): useless now.
    await subscription.unsubscribe()
    subscription = null
  }
  subscription ??= await subscribe(registration, key)

  const json = subscription.toJSON()
  if (!json.endpoint || !json.keys?.p256dh || !json.keys.auth) {
    throw new UserFacingError('This browser gave an incomplete push subscription.')
  }
  await relay.subscribePush({
    endpoint: json.endpoint,
    keys: { p256dh: json.keys.p256dh, auth: json.keys.auth },
  })
  await saveSetting((current) => ({
    previews: fresh ? true : (current?.previews ?? true),
    endpoint: json.endpoint ?? null,
  }))
  log.info('push subscription registered')
}

/**
 * Subscribes, waiting at most 15 s: a browser whose push service cannot
 * be reached (headless Chromium has none) may never answer.
 */
async function subscribe(
  registration: ServiceWorkerRegistration,
  applicationServerKey: Uint8Array<ArrayBuffer>,
): Promise<PushSubscription> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('subscribe: timed out')),
      SUBSCRIBE_TIMEOUT_MS,
    )
  })
  try {
    return await Promise.race([
      registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey }),
      timeout,
    ])
  } catch (error) {
    log.warn('push subscription refused', { error: (error as Error).name })
    throw new UserFacingError(
      'This browser’s push service did not answer, so notifications cannot be turned on.',
    )
  } finally {
    clearTimeout(timer)
  }
}

/** Turns notifications off: the relay stops pushing, the browser forgets it. */
export async function turnOffNotifications(relay: RelayClient): Promise<void> {
  await relay.unsubscribePush()
  const registration = await navigator.serviceWorker.getRegistration()
  await (await registration?.pushManager.getSubscription())?.unsubscribe()
  await saveSetting((current) => ({
    previews: current?.previews ?? true,
    endpoint: null,
  }))
}

/** Whether notifications show the sender and the text, or only that a message came. */
export async function setNotificationPreviews(previews: boolean): Promise<void> {
  await saveSetting((current) => ({ previews, endpoint: current?.endpoint ?? null }))
}

type Setting = { previews: boolean; endpoint: string | null }

async function saveSetting(update: (current: Setting | undefined) => Setting) {
  const db = await database()
  const tx = db.transaction('device', 'readwrite')
  const device = await tx.store.get('self')
  if (device) {
    await tx.store.put({ ...device, notifications: update(device.notifications) }, 'self')
  }
  await tx.done
}

function sameKey(a: ArrayBuffer | null, b: Uint8Array): boolean {
  if (!a || a.byteLength !== b.length) return false
  const bytes = new Uint8Array(a)
  return bytes.every((byte, index) => byte === b[index])
}
