import { pushSubscriptionRequest } from '@/lib/core/api'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'
import { deleteSubscription, saveSubscription } from '@/lib/server/push/subscriptions'
import { vapid } from '@/lib/server/push/vapid'

export const dynamic = 'force-dynamic'

// GET /api/push: the relay's VAPID public key (the applicationServerKey to
// subscribe with), or null when this relay has no Web Push.
export const GET = apiRoute({ operation: 'push-key', auth: false }, () =>
  Promise.resolve({ publicKey: vapid()?.publicKey ?? null }),
)

// PUT /api/push: this device's push subscription, replacing its previous one.
export const PUT = apiRoute(
  {
    operation: 'push-subscribe',
    auth: true,
    body: pushSubscriptionRequest,
    limit: LIMITS.keyUpload,
  },
  async ({ device, body }) => {
    await saveSubscription(device.deviceId, body)
    return { subscribed: true }
  },
)

// DELETE /api/push: no more pushes to this device.
export const DELETE = apiRoute(
  { operation: 'push-unsubscribe', auth: true, limit: LIMITS.keyUpload },
  async ({ device }) => ({ deleted: await deleteSubscription(device.deviceId) }),
)
