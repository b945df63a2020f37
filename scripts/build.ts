/**
 * `npm run build`: `next build`, then the service worker and the server
 * program (scripts/bundles.ts), in .next/tidings where scripts/start.ts and
 * the tests look for them.
 */
import { spawnSync } from 'node:child_process'

import { buildServer, buildServiceWorker } from './bundles'

const next = spawnSync(process.execPath, ['node_modules/next/dist/bin/next', 'build'], {
  stdio: 'inherit',
})
if (next.status !== 0) process.exit(next.status ?? 1)
await buildServiceWorker()
await buildServer()
