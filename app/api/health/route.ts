import { withDb } from '@/lib/server/db/client'
import { apiRoute } from '@/lib/server/http/api-route'

export const dynamic = 'force-dynamic'

// GET /api/health: the store answers; used by process supervisors and tests.
export const GET = apiRoute({ operation: 'health', auth: false }, async () => {
  await withDb((db) => db.$queryRaw`SELECT 1`)
  return { ok: true }
})
