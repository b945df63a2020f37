import { deviceId } from '@/lib/core/api'
import { deviceOwner } from '@/lib/server/accounts/lookup'
import { ApiError } from '@/lib/server/http/api-error'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'

// GET /api/devices/:deviceId: the username of the device's account.
export const GET = apiRoute(
  { operation: 'device-owner', auth: true, limit: LIMITS.read },
  async ({ params }) => {
    const id = deviceId.safeParse(params.deviceId ?? '')
    if (!id.success) {
      throw new ApiError('invalid-request', 'deviceId: expected a device id', {
        field: 'deviceId',
      })
    }
    return deviceOwner(id.data)
  },
)
