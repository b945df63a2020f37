import { challengeRequest } from '@/lib/core/api'
import { toBase64 } from '@/lib/core/bytes'
import { createChallenge } from '@/lib/server/auth/credentials'
import { apiRoute } from '@/lib/server/http/api-route'
import { LIMITS } from '@/lib/server/http/rate-limit'

// POST /api/auth/challenge: a nonce for the device to sign.
export const POST = apiRoute(
  { operation: 'challenge', auth: false, body: challengeRequest, limit: LIMITS.login },
  async ({ body }) => {
    const { challengeId, nonce, expiresAt } = await createChallenge(body.deviceId)
    return { challengeId, nonce: toBase64(nonce), expiresAt: expiresAt.getTime() }
  },
)
