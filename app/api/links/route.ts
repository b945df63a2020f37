import { openLink } from '@/lib/server/accounts/devices'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'

// POST /api/links: open a link for a new device of the caller's account.
export const POST = apiRoute(
  { operation: 'open-link', auth: true, limit: LIMITS.keyUpload },
  async ({ device }) => Response.json(await openLink(device), { status: 201 }),
)
