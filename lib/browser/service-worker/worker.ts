/**
 * Tidings' service worker, bundled by scripts/build.ts into /sw.js:
 * - keeps the app shell of its build in a cache, so the installed app opens
 *   without a network and shows chats and history from IndexedDB;
 * - wakes on Web Push to receive, decrypt and notify while no page is open
 *   (push.ts);
 * - opens the right chat when a notification is clicked.
 *
 * A new build installs beside the old one and waits; it takes over when no
 * page of the old one is left, or when a page asks it to (the "Reload"
 * banner), then deletes the old shell.
 */
import { readPushPayload } from '@/lib/core/push'

import { deviceRelay } from '../device-relay'
import { database } from '../db'
import { logger } from '../log'
import { handlePush } from './push'

declare const self: ServiceWorkerGlobalScope

/** Written by scripts/build.ts: this build's id and the URLs of its shell. */
declare const PRECACHE: { version: string; urls: string[] }

const log = logger('worker')
const SHELL_PREFIX = 'tidings-shell-'
const SHELL = `${SHELL_PREFIX}${PRECACHE.version}`
const PRECACHED = new Set(PRECACHE.urls)

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(PRECACHE.urls)))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(SHELL_PREFIX) && name !== SHELL) await caches.delete(name)
      }
      await self.clients.claim()
      log.info('active', { version: PRECACHE.version })
    })(),
  )
})

self.addEventListener('message', (event) => {
  if ((event.data as { kind?: string } | null)?.kind === 'skip-waiting') {
    void self.skipWaiting()
  }
})

self.addEventListener('fetch', (event) => {
  const { request } = event
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return

  // The app is one page: every visit to it opens this build's shell.
  // Limitation: the cached page and its Content-Security-Policy keep the
  // nonce they were fetched with until the next build; injected markup
  // still cannot read it, but a nonce per visit would be stronger.
  if (request.mode === 'navigate' && url.pathname === '/') {
    event.respondWith(fromShell('/', request))
  } else if (PRECACHED.has(url.pathname)) {
    event.respondWith(fromShell(url.pathname, request))
  }
})

/** The shell's copy, or the network when the cache lost it. */
async function fromShell(key: string, request: Request): Promise<Response> {
  const cached = await caches.match(key, { cacheName: SHELL })
  return cached ?? fetch(request)
}

self.addEventListener('push', (event) => {
  const payload = readPushPayload(event.data?.text() ?? null)
  event.waitUntil(handlePush(payload))
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  const conversation = (event.notification.data as { conversation?: unknown } | null)
    ?.conversation
  event.waitUntil(openChat(typeof conversation === 'string' ? conversation : null))
})

/** Brings a page to the front with the chat open, or opens one. */
async function openChat(conversation: string | null): Promise<void> {
  const windows = await self.clients.matchAll({ type: 'window' })
  const page = windows[0]
  if (page) {
    await page.focus()
    page.postMessage({ kind: 'open-chat', conversation })
    return
  }
  const query = conversation ? `?chat=${encodeURIComponent(conversation)}` : ''
  await self.clients.openWindow(`/${query}`)
}

// The browser renewed or dropped the subscription: tell the relay the new one.
self.addEventListener('pushsubscriptionchange', (event) => {
  const change = event as Event & {
    oldSubscription?: PushSubscription | null
    newSubscription?: PushSubscription | null
    waitUntil: (promise: Promise<unknown>) => void
  }
  change.waitUntil(
    resubscribe(change.oldSubscription ?? null, change.newSubscription ?? null),
  )
})

async function resubscribe(
  old: PushSubscription | null,
  renewed: PushSubscription | null,
): Promise<void> {
  const device = await (await database()).get('device', 'self')
  if (!device || device.removedAt) return
  try {
    const subscription =
      renewed ??
      (await self.registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: old?.options.applicationServerKey ?? null,
      }))
    const json = subscription.toJSON()
    if (!json.endpoint || !json.keys?.p256dh || !json.keys.auth) return
    await deviceRelay(device).relay.subscribePush({
      endpoint: json.endpoint,
      keys: { p256dh: json.keys.p256dh, auth: json.keys.auth },
    })
    log.info('push subscription renewed')
  } catch (error) {
    log.warn('push subscription not renewed', { error: (error as Error).name })
  }
}
