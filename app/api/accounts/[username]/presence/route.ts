import { apiRoute } from '@/lib/server/http/api-route'
import { usernameParam } from '@/lib/server/http/params'
import { LIMITS } from '@/lib/server/http/rate-limit'
import { presenceOf } from '@/lib/server/relay/presence'

// GET /api/accounts/:username/presence: online, or when last seen.
export const GET = apiRoute(
  { operation: 'presence', auth: true, limit: LIMITS.read },
  async ({ params, device }) => presenceOf(usernameParam(params), device.accountId),
)
