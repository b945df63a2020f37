/**
 * Push in headless Chromium, for real from the service worker on: Chromium
 * here has no vendor push service, so `pushManager.subscribe` is answered
 * with a subscription at the test push service (tests/support/push-service),
 * and what that service accepts is handed to the service worker with the
 * DevTools protocol's ServiceWorker.deliverPushMessage.
 */
import type { BrowserContext, CDPSession, Page } from '@playwright/test'

import type { TestSubscription } from '../support/push-service'

/** Where the app stores the key it subscribed with, in the test's stand-in. */
const SUBSCRIBED_KEY = 'tidings-test:applicationServerKey'

/**
 * Makes `pushManager.subscribe` in this context's pages answer with
 * `subscription` (keeping the applicationServerKey it was given), and
 * `getSubscription` return it once subscribed.
 */
export async function installFakePushManager(
  context: BrowserContext,
  subscription: TestSubscription,
): Promise<void> {
  await context.addInitScript(
    ({ endpoint, keys, storageKey }) => {
      const fromBase64Url = (text: string) =>
        Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (char) =>
          char.charCodeAt(0),
        )
      const toBase64Url = (bytes: Uint8Array) =>
        btoa(String.fromCharCode(...bytes))
          .replace(/\+/g, '-')
          .replace(/\//g, '_')
          .replace(/=+$/, '')

      const current = () => {
        const key = localStorage.getItem(storageKey)
        if (!key) return null
        return {
          endpoint,
          expirationTime: null,
          options: {
            userVisibleOnly: true,
            applicationServerKey: fromBase64Url(key).buffer,
          },
          getKey: (name: 'p256dh' | 'auth') => fromBase64Url(keys[name]).buffer,
          toJSON: () => ({ endpoint, expirationTime: null, keys }),
          unsubscribe: () => {
            localStorage.removeItem(storageKey)
            return Promise.resolve(true)
          },
        } as unknown as PushSubscription
      }

      PushManager.prototype.subscribe = function (options?: PushSubscriptionOptionsInit) {
        const key = options?.applicationServerKey
        if (!key || typeof key === 'string') {
          return Promise.reject(new DOMException('no key', 'InvalidAccessError'))
        }
        const bytes = new Uint8Array(ArrayBuffer.isView(key) ? key.buffer : key)
        localStorage.setItem(storageKey, toBase64Url(bytes))
        return Promise.resolve(current()!)
      }
      PushManager.prototype.getSubscription = function () {
        return Promise.resolve(current())
      }
    },
    {
      endpoint: subscription.endpoint,
      keys: subscription.keys,
      storageKey: SUBSCRIBED_KEY,
    },
  )
}

/** The key the app subscribed with (base64url), read from one of its pages. */
export function subscribedKey(page: Page): Promise<string | null> {
  return page.evaluate((key) => localStorage.getItem(key), SUBSCRIBED_KEY)
}

export interface PushProbe {
  /** Hands a push's data to the origin's service worker. */
  deliver: (data: string) => Promise<void>
  /** The notifications the service worker shows now. */
  notifications: () => Promise<
    { title: string; body: string; tag: string; timestamp: number }[]
  >
}

/**
 * Opens a same-origin page that is not the app (the health check), with a
 * DevTools session: the app stays closed while pushes are delivered and
 * notifications read.
 */
export async function openPushProbe(
  context: BrowserContext,
  origin: string,
): Promise<PushProbe> {
  const page = await context.newPage()
  await page.goto(`${origin}/api/health`)
  const cdp: CDPSession = await context.newCDPSession(page)
  const registrations = new Map<string, string>()
  cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations: updated }) => {
    for (const registration of updated) {
      if (registration.isDeleted) registrations.delete(registration.scopeURL)
      else registrations.set(registration.scopeURL, registration.registrationId)
    }
  })
  await cdp.send('ServiceWorker.enable')

  return {
    deliver: async (data) => {
      const registrationId = registrations.get(`${origin}/`)
      if (!registrationId) throw new Error('no service worker registered for the app')
      await cdp.send('ServiceWorker.deliverPushMessage', { origin, registrationId, data })
    },
    notifications: () =>
      page.evaluate(async () => {
        const registration = await navigator.serviceWorker.getRegistration('/')
        const shown = (await registration?.getNotifications()) ?? []
        // `timestamp` is when it was shown (not in TypeScript's DOM types).
        return shown.map((notification) => ({
          title: notification.title,
          body: notification.body,
          tag: notification.tag,
          timestamp: (notification as Notification & { timestamp: number }).timestamp,
        }))
      }),
  }
}
