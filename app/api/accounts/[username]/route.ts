import { lookupAccount } from '@/lib/server/accounts/lookup'
import { apiRoute } from '@/lib/server/http/api-route'
import { usernameParam } from '@/lib/server/http/params'
import { LIMITS } from '@/lib/server/http/rate-limit'

// GET /api/accounts/:username: identity key, signed device list, device keys.
export const GET = apiRoute(
  { operation: 'lookup', auth: true, limit: LIMITS.read },
  async ({ params, device }) => lookupAccount(usernameParam(params), device.accountId),
)
