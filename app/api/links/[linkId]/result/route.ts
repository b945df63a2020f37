import { linkResult } from '@/lib/server/accounts/devices'
import { apiRoute } from '@/lib/server/http/api-route'
import { linkIdParam } from '@/lib/server/http/params'
import { LIMITS } from '@/lib/server/http/rate-limit'

// GET /api/links/:linkId/result: the sealed answer for the new device, once approved.
export const GET = apiRoute(
  { operation: 'link-result', auth: false, limit: LIMITS.login },
  async ({ params }) => linkResult(linkIdParam(params)),
)
