import { tokenRequest } from '@/lib/core/api'
import { redeemChallenge } from '@/lib/server/auth/credentials'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'

// POST /api/auth/token: the signed challenge, exchanged for a bearer credential.
export const POST = apiRoute(
  { operation: 'login', auth: false, body: tokenRequest, limit: LIMITS.login },
  async ({ body }) => {
    const { token, expiresAt } = await redeemChallenge(body.challengeId, body.signature)
    return { token, expiresAt: expiresAt.getTime() }
  },
)
