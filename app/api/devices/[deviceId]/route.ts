import { unlinkRequest } from '@/lib/core/api'
import { deviceOwner } from '@/lib/server/accounts/lookup'
import { unlinkDevice } from '@/lib/server/accounts/devices'
import { apiRoute } from '@/lib/server/http/api-route'
import { deviceIdParam } from '@/lib/server/http/params'
import { LIMITS } from '@/lib/server/http/rate-limit'

// GET /api/devices/:deviceId: the username of the device's account.
export const GET = apiRoute(
  { operation: 'device-owner', auth: true, limit: LIMITS.read },
  async ({ params }) => deviceOwner(deviceIdParam(params)),
)

// DELETE /api/devices/:deviceId: unlink a device of the caller's account.
export const DELETE = apiRoute(
  { operation: 'unlink', auth: true, body: unlinkRequest, limit: LIMITS.keyUpload },
  async ({ device, body, params }) => unlinkDevice(device, deviceIdParam(params), body),
)
