import { sendRequest } from '@/lib/core/api'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'
import { sendMessage } from '@/lib/server/relay/send'

// POST /api/messages: store one message's envelopes for every device.
// Limitation: each request pays Next.js's own routing (about 5 ms of CPU on
// our 2-core machines), which caps one process near 200 sends a second; the
// scale-out issue may serve this path from a custom server around Next.js.
export const POST = apiRoute(
  { operation: 'send', auth: true, body: sendRequest, limit: LIMITS.send },
  async ({ device, body }) =>
    sendMessage(device, body.to, body.envelopes, { urgent: body.urgent ?? true }),
)
