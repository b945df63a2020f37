/**
 * What `npm start` and `npm run dev` share: the store brought up to date,
 * then the bundled server program run in the foreground.
 */
import { spawn } from 'node:child_process'

import { databaseUrl } from '../lib/server/db/database-url'
import { applyMigrations } from '../lib/server/db/migrate'
import { SERVER_FILE } from './bundles'

/** Applies the committed migrations to DATABASE_URL (the SQLite file by default). */
export async function migrateDatabase(): Promise<void> {
  process.env.DATABASE_URL = databaseUrl()
  const applied = await applyMigrations(process.env.DATABASE_URL)
  console.log(
    applied.length ? `database: applied ${applied.join(', ')}` : 'database: up to date',
  )
}

/**
 * Runs the server program (.next/tidings/server.mjs) with this process's
 * environment and `nodeEnv`, passes SIGINT and SIGTERM on, and exits with it.
 * Plain Node: Next.js must not run under the react-server condition that
 * the calling script needed for lib/server (the bundle has it compiled in).
 */
export function runServer(nodeEnv: NodeJS.ProcessEnv['NODE_ENV']): void {
  const server = spawn(process.execPath, [SERVER_FILE], {
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: nodeEnv },
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => server.kill(signal))
  }
  server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
}
