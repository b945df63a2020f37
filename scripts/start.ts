/**
 * `npm start`: prepares the database (migrations applied), makes VAPID keys
 * for Web Push once when none are configured, builds when the sources are
 * newer than the last build, then runs the server program (Next.js with the
 * relay's hot paths in front, scripts/serve.ts).
 * Honours PORT (default 3000), HOST, DATABASE_URL (default: SQLite file
 * under ./data) and VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT.
 */
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import path from 'node:path'

import webpush from 'web-push'

import { SERVER_FILE, SERVICE_WORKER_FILE } from './bundles'
import { migrateDatabase, runServer } from './run-server'

const SOURCES = ['app', 'lib', 'public', 'scripts', 'next.config.js', 'package.json']
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
  if (![buildId, SERVICE_WORKER_FILE, SERVER_FILE].every((file) => existsSync(file))) {
    return true
  }
  const builtAt = statSync(buildId).mtimeMs
  return SOURCES.some((source) => newestMtime(source) > builtAt)
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}

/**
 * VAPID keys from the environment, or else from data/vapid.json, made on the
 * first start. Outside git, and kept: browsers' subscriptions are bound to
 * the public key, and a new pair would silence every one of them.
 */
function ensureVapidKeys(): void {
  if (process.env.VAPID_PUBLIC_KEY && process.env.VAPID_PRIVATE_KEY) return
  const file = path.join('data', 'vapid.json')
  if (!existsSync(file)) {
    mkdirSync('data', { recursive: true })
    writeFileSync(file, JSON.stringify(webpush.generateVAPIDKeys(), null, 2), {
      mode: 0o600,
    })
    console.log(`push: made VAPID keys for Web Push in ${file} (keep this file)`)
  }
  const keys = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>
  process.env.VAPID_PUBLIC_KEY = keys.publicKey
  process.env.VAPID_PRIVATE_KEY = keys.privateKey
}

ensureVapidKeys()
await migrateDatabase()

if (!existsSync('lib/server/db/generated/sqlite/client.ts')) {
  run('npm', ['run', '--silent', 'generate'])
}
if (needsBuild()) {
  console.log('build: sources changed since the last build, building…')
  run(process.execPath, ['--import', 'tsx', 'scripts/build.ts'])
}

runServer(process.env.NODE_ENV ?? 'production')
