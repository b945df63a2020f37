import { readLink } from '@/lib/server/accounts/devices'
import { apiRoute } from '@/lib/server/http/api-route'
import { linkIdParam } from '@/lib/server/http/params'
import { LIMITS } from '@/lib/server/http/rate-limit'

// GET /api/links/:linkId: the link's state and the new device's request, for its account.
export const GET = apiRoute(
  { operation: 'read-link', auth: true, limit: LIMITS.read },
  async ({ device, params }) => readLink(device, linkIdParam(params)),
)
