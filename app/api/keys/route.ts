import { keyUpload } from '@/lib/core/api'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'
import { prekeyStock, uploadPrekeys } from '@/lib/server/keys/prekeys'

// GET /api/keys: how many one-time prekeys this device has left.
export const GET = apiRoute(
  { operation: 'prekey-stock', auth: true, limit: LIMITS.read },
  async ({ device }) => prekeyStock(device.deviceId),
)

// PUT /api/keys: rotate the signed prekeys and add one-time prekeys.
export const PUT = apiRoute(
  { operation: 'upload-prekeys', auth: true, body: keyUpload, limit: LIMITS.keyUpload },
  async ({ device, body }) => uploadPrekeys(device.deviceId, body),
)
