import { apiRoute } from '@/lib/server/http/api-route'
import { ApiError } from '@/lib/server/http/api-error'
import { LIMITS } from '@/lib/server/http/rate-limit'
import { deliveryHub } from '@/lib/server/relay/hub'
import { MAX_STREAMS_PER_DEVICE, openStream } from '@/lib/server/relay/stream'

export const dynamic = 'force-dynamic'

// GET /api/stream: this device's envelopes as Server-Sent Events.
export const GET = apiRoute(
  { operation: 'stream', auth: true, limit: LIMITS.read },
  ({ request, device }) => {
    const header = request.headers.get('last-event-id') ?? '0'
    if (!/^\d{1,15}$/.test(header)) {
      throw new ApiError('invalid-request', 'Last-Event-ID: expected a sequence number')
    }
    if (deliveryHub().streamsOf(device.deviceId) >= MAX_STREAMS_PER_DEVICE) {
      throw new ApiError(
        'rate-limited',
        'stream: too many open streams for this device',
        {
          headers: { 'Retry-After': '5' },
        },
      )
    }
    return Promise.resolve(openStream(device, Number(header), request.signal))
  },
)
