import { linkRequest } from '@/lib/core/api'
import { requestLink } from '@/lib/server/accounts/devices'
import { apiRoute } from '@/lib/server/http/api-route'
import { linkIdParam } from '@/lib/server/http/params'
import { LIMITS } from '@/lib/server/http/rate-limit'

// POST /api/links/:linkId/request: a new device asks to join (once per link).
export const POST = apiRoute(
  { operation: 'request-link', auth: false, body: linkRequest, limit: LIMITS.register },
  async ({ body, params }) => {
    await requestLink(linkIdParam(params), body)
    return Response.json({ requested: true }, { status: 202 })
  },
)
