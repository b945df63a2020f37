import 'server-only'

import { sweepCredentialCache } from './auth/credentials'
import { withDb } from './db/client'
import { sweepBuckets } from './http/rate-limit'
import { logger } from './log'
import { deleteExpired } from './relay/queue'

const log = logger('maintenance')

/** How often expired envelopes, challenges and credentials are swept. */
const SWEEP_EVERY_MS = 10 * 60 * 1000

/** Sweeps now, then every 10 minutes, for the life of the process. */
export function startMaintenance(): void {
  const sweep = async () => {
    try {
      const now = new Date()
      const envelopes = await deleteExpired(now.getTime())
      const { challenges, credentials, links } = await withDb(async (db) => ({
        links: (await db.link.deleteMany({ where: { expiresAt: { lt: now } } })).count,
        challenges: (await db.challenge.deleteMany({ where: { expiresAt: { lt: now } } }))
          .count,
        credentials: (
          await db.credential.deleteMany({ where: { expiresAt: { lt: now } } })
        ).count,
      }))
      sweepBuckets(now.getTime())
      sweepCredentialCache(now.getTime())
      if (envelopes + challenges + credentials + links > 0) {
        log.info({ envelopes, challenges, credentials, links }, 'swept expired records')
      }
    } catch (error) {
      log.error({ err: error }, 'sweep failed')
    }
  }
  void sweep()
  setInterval(() => void sweep(), SWEEP_EVERY_MS).unref()
}
