import { sendRequest } from '@/lib/core/api'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'
import { sendMessage } from '@/lib/server/relay/send'

// POST /api/messages: store one message's envelopes for every device.
export const POST = apiRoute(
  { operation: 'send', auth: true, body: sendRequest, limit: LIMITS.send },
  async ({ device, body }) => sendMessage(device, body.to, body.envelopes),
)
