import { queueQuery } from '@/lib/core/api'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'
import { readQueue } from '@/lib/server/relay/queue'

// GET /api/envelopes: a page of this device's queue (for the service worker).
export const GET = apiRoute(
  { operation: 'read-queue', auth: true, query: queueQuery, limit: LIMITS.read },
  async ({ device, query }) => ({
    envelopes: await readQueue(device.deviceId, query.after, query.limit),
  }),
)
