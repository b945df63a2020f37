import { linkApproval } from '@/lib/core/api'
import { approveLink } from '@/lib/server/accounts/devices'
import { apiRoute } from '@/lib/server/http/api-route'
import { linkIdParam } from '@/lib/server/http/params'
import { LIMITS } from '@/lib/server/http/rate-limit'

// POST /api/links/:linkId/approve: add the new device with the account's new signed list.
export const POST = apiRoute(
  { operation: 'approve-link', auth: true, body: linkApproval, limit: LIMITS.keyUpload },
  async ({ device, body, params }) => approveLink(device, linkIdParam(params), body),
)
