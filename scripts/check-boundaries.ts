/**
 * Checks where code may run, as part of `npm run lint`:
 * - lib/core runs anywhere (page, service worker, server): it imports only
 *   its own files and a few pure packages; no Node, DOM framework or Next.
 * - lib/server runs on the server only: every file imports 'server-only',
 *   so a client bundle that reaches it fails to build.
 * - lib/browser and client components never import lib/server.
 * (lib/core/tsconfig.json also compiles the core with no DOM and no Node types.)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'

const CORE_PACKAGES =
  /^(@noble\/(curves|hashes|ciphers|post-quantum)\/|@scure\/base$|zod$)/

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    if (name === 'node_modules' || name === 'generated') return []
    if (statSync(full).isDirectory()) return files(full)
    return /\.(ts|tsx)$/.test(name) ? [full] : []
  })
}

/** import … from 'x', export … from 'x', import('x') and import 'x'. */
const IMPORT_PATTERNS = [
  /(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/gm,
  /import\(\s*['"]([^'"]+)['"]\s*\)/gm,
  /^import\s+['"]([^'"]+)['"]/gm,
]

function imports(source: string): string[] {
  return IMPORT_PATTERNS.flatMap((pattern) =>
    [...source.matchAll(pattern)].map((match) => match[1] ?? ''),
  )
}

const problems: string[] = []

for (const file of files('lib/core')) {
  for (const target of imports(readFileSync(file, 'utf8'))) {
    if (
      target.startsWith('./') ||
      (target.startsWith('../') && !/\.\.\/(server|browser)/.test(target))
    ) {
      if (path.resolve(path.dirname(file), target).startsWith(path.resolve('lib/core')))
        continue
    }
    if (!CORE_PACKAGES.test(target))
      problems.push(`${file}: lib/core may not import "${target}"`)
  }
}

for (const file of files('lib/server')) {
  const source = readFileSync(file, 'utf8')
  if (!/^import 'server-only'$/m.test(source)) {
    problems.push(`${file}: server modules must import 'server-only'`)
  }
}

for (const file of [...files('lib/browser'), ...files('app')]) {
  const source = readFileSync(file, 'utf8')
  const isClient = file.startsWith('lib/browser') || /^['"]use client['"]/m.test(source)
  if (!isClient) continue
  for (const target of imports(source)) {
    if (/lib\/server|^\.\.?\/.*server\//.test(target)) {
      problems.push(`${file}: browser code may not import "${target}"`)
    }
  }
}

if (problems.length > 0) {
  console.error(problems.join('\n'))
  process.exit(1)
}
console.log('boundaries: lib/core, lib/server and browser code import only what they may')
