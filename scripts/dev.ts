/**
 * `npm run dev`: the server program in Next.js's development mode. Applies
 * the migrations, bundles the server program (scripts/bundles.ts) and runs
 * it with NODE_ENV=development, so pages compile on request while the
 * relay's hot paths are served as in production. A change under lib/server
 * needs a restart; pages and components reload by themselves.
 * The service worker exists only after `npm run build`.
 */
import { spawn } from 'node:child_process'

import { databaseUrl } from '../lib/server/db/database-url'
import { applyMigrations } from '../lib/server/db/migrate'
import { buildServer, SERVER_FILE } from './bundles'

process.env.DATABASE_URL = databaseUrl()
const applied = await applyMigrations(process.env.DATABASE_URL)
console.log(
  applied.length ? `database: applied ${applied.join(', ')}` : 'database: up to date',
)
await buildServer()

// Plain Node, as in production: Next.js must not run under react-server.
const server = spawn(process.execPath, [SERVER_FILE], {
  stdio: 'inherit',
  env: { ...process.env, NODE_OPTIONS: '', NODE_ENV: 'development' },
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => server.kill(signal))
}
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
