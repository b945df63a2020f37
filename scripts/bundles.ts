/**
 * The two bundles esbuild makes after `next build`, into .next/tidings:
 * - sw.js, the service worker (lib/browser/service-worker/worker.ts), which
 *   app/sw.js/route.ts serves, with this build's precache list written in:
 *   the page, the manifest, the icons and every file of .next/static. The
 *   list comes from the build output, so the shell it caches is exactly the
 *   one this build serves;
 * - server.mjs, the server program (scripts/serve.ts), with lib/server
 *   compiled in and every package left to node_modules.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

import { build, type Plugin } from 'esbuild'

export const SERVICE_WORKER_FILE = path.join('.next', 'tidings', 'sw.js')
export const SERVER_FILE = path.join('.next', 'tidings', 'server.mjs')

/** Files under `dir`, as paths relative to it with forward slashes. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .map((file) => file.split(path.sep).join('/'))
    .sort()
}

/** Bundles the service worker for the build in .next. */
export async function buildServiceWorker(): Promise<void> {
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

/**
 * `server-only` throws unless imported under the react-server condition,
 * which Next.js itself must not run under: in the server bundle it is the
 * empty module it is there.
 */
const serverOnly: Plugin = {
  name: 'server-only',
  setup(build) {
    build.onResolve({ filter: /^server-only$/ }, () => ({
      path: 'server-only',
      namespace: 'server-only',
    }))
    build.onLoad({ filter: /.*/, namespace: 'server-only' }, () => ({ contents: '' }))
  },
}

/** Bundles the server program. */
export async function buildServer(): Promise<void> {
  await build({
    entryPoints: ['scripts/serve.ts'],
    outfile: SERVER_FILE,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    plugins: [serverOnly],
    sourcemap: 'linked',
    logLevel: 'warning',
  })
  console.log(`build: server program in ${SERVER_FILE}`)
}
