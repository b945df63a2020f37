import { registration } from '@/lib/core/api'
import { registerAccount } from '@/lib/server/accounts/register'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'

// POST /api/accounts: create an account with its first device.
export const POST = apiRoute(
  { operation: 'register', auth: false, body: registration, limit: LIMITS.register },
  async ({ body }) => Response.json(await registerAccount(body), { status: 201 }),
)
