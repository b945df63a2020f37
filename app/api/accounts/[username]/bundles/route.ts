import { bundleQuery } from '@/lib/core/api'
import { apiRoute } from '@/lib/server/http/api-route'
import { usernameParam } from '@/lib/server/http/params'
import { LIMITS } from '@/lib/server/http/rate-limit'
import { fetchBundles } from '@/lib/server/keys/prekeys'

// GET /api/accounts/:username/bundles: prekey bundles, consuming one-time keys.
export const GET = apiRoute(
  { operation: 'fetch-bundles', auth: true, query: bundleQuery, limit: LIMITS.keyFetch },
  async ({ params, query }) => fetchBundles(usernameParam(params), query.devices),
)
