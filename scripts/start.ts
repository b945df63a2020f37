/**
 * `npm start`: prepares the database (migrations applied), builds when the
 * sources are newer than the last build, then serves with `next start`.
 * Honours PORT (default 3000), HOST and DATABASE_URL (default: SQLite file
 * under ./data).
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'

import { databaseUrl } from '../lib/server/db/database-url'
import { applyMigrations } from '../lib/server/db/migrate'

const SOURCES = [
  'app',
  'lib',
  'public',
  'next.config.js',
  'instrumentation.ts',
  'package.json',
]
const SKIP = new Set(['node_modules', 'generated'])

function newestMtime(entry: string): number {
  if (!existsSync(entry)) return 0
  const stat = statSync(entry)
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const name of readdirSync(entry)) {
    if (!SKIP.has(name)) newest = Math.max(newest, newestMtime(path.join(entry, name)))
  }
  return newest
}

function needsBuild(): boolean {
  const buildId = path.join('.next', 'BUILD_ID')
  if (!existsSync(buildId)) return true
  const builtAt = statSync(buildId).mtimeMs
  return SOURCES.some((source) => newestMtime(source) > builtAt)
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

process.env.DATABASE_URL = databaseUrl()
const applied = await applyMigrations(process.env.DATABASE_URL)
console.log(
  applied.length ? `database: applied ${applied.join(', ')}` : 'database: up to date',
)

if (!existsSync('lib/server/db/generated/sqlite/client.ts')) {
  run('npm', ['run', '--silent', 'generate'])
}
if (needsBuild()) {
  console.log('build: sources changed since the last build, building…')
  run(process.execPath, ['node_modules/next/dist/bin/next', 'build'])
}

const port = process.env.PORT || '3000'
const args = ['node_modules/next/dist/bin/next', 'start', '-p', port]
if (process.env.HOST) args.push('-H', process.env.HOST)
const server = spawn(process.execPath, args, { stdio: 'inherit', env: process.env })
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => server.kill(signal))
}
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
