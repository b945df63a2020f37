import { ackRequest } from '@/lib/core/api'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'
import { acknowledge } from '@/lib/server/relay/queue'

// POST /api/envelopes/ack: delete envelopes this device has stored.
export const POST = apiRoute(
  { operation: 'ack', auth: true, body: ackRequest, limit: LIMITS.read },
  async ({ device, body }) => ({
    deleted: await acknowledge(device.deviceId, body.seqs),
  }),
)
