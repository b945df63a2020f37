/**
 * `npm run build`: `next build`, then the service worker. The worker
 * (lib/browser/service-worker/worker.ts) is bundled with esbuild into
 * .next/tidings/sw.js (scripts/start.ts looks for it there), which
 * app/sw.js/route.ts serves, with this build's
 * precache list written in: the page, the manifest, the icons and every
 * file of .next/static. The list comes from the build output, so the shell
 * it caches is exactly the one this build serves.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

import { build } from 'esbuild'

const SERVICE_WORKER_FILE = path.join('.next', 'tidings', 'sw.js')

/** Files under `dir`, as paths relative to it with forward slashes. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .map((file) => file.split(path.sep).join('/'))
    .sort()
}

/** Bundles the service worker for the build in .next. */
async function buildServiceWorker(): Promise<void> {
  const version = readFileSync(path.join('.next', 'BUILD_ID'), 'utf8').trim()
  const urls = [
    '/',
    '/manifest.webmanifest',
    ...filesUnder('public/icons')
      .filter((file) => file.endsWith('.png'))
      .map((file) => `/icons/${file}`),
    ...filesUnder(path.join('.next', 'static')).map((file) => `/_next/static/${file}`),
  ]

  await build({
    entryPoints: ['lib/browser/service-worker/worker.ts'],
    outfile: SERVICE_WORKER_FILE,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    define: {
      PRECACHE: JSON.stringify({ version, urls }),
      'process.env.NODE_ENV': '"production"',
    },
    logLevel: 'warning',
  })
  console.log(`build: service worker for ${version}, ${urls.length} URLs precached`)
}

const next = spawnSync(process.execPath, ['node_modules/next/dist/bin/next', 'build'], {
  stdio: 'inherit',
})
if (next.status !== 0) process.exit(next.status ?? 1)
await buildServiceWorker()
