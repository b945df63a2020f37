/**
 * `npm test`: every test, non-zero exit on any failure.
 *   1. checks for Chromium, PostgreSQL and Redis (installs Debian's packages
 *      where it may),
 *   2. builds the app once (scripts/build.ts); tests run its server program,
 *   3. unit and API integration tests (node:test), then the browser tests
 *      (Playwright driving real Chromium), on a SQLite file;
 *   4. the API and browser tests again on a throwaway PostgreSQL cluster.
 * Ends with one line: "tests: N passed, N failed".
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

/** What the tests start for real, and the Debian package each comes from. */
const NEEDED = [
  { program: CHROMIUM, pkg: 'chromium' },
  { program: '/usr/lib/postgresql', pkg: 'postgresql' },
  { program: '/usr/bin/redis-server', pkg: 'redis-server' },
]

function ensurePackages(): void {
  const missing = NEEDED.filter(({ program }) => !existsSync(program))
  if (missing.length === 0) return
  const names = missing.map(({ pkg }) => pkg)
  const isRoot = process.getuid?.() === 0
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log(`test: installing Debian's ${names.join(', ')} (apt-get install -y)`)
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
    spawnSync('apt-get', ['install', '-y', '-qq', ...names], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
    if (missing.every(({ program }) => existsSync(program))) return
  }
  console.error(
    `test: missing ${names.join(', ')}. ` +
      `Install with: sudo apt-get install -y ${names.join(' ')}\n` +
      '      (CHROMIUM_PATH may point at another Chromium binary)',
  )
  process.exit(1)
}

function testFiles(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((name) => name.endsWith(suffix))
    .map((name) => path.join(dir, name))
    .sort()
}

/** Runs a command, echoing its output, and collects pass/fail counts from it. */
function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  count: (output: string) => { passed: number; failed: number },
): Promise<{ code: number; passed: number; failed: number }> {
  return new Promise((resolve) => {
    let output = ''
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      process.stdout.write(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk))
    child.on('close', (code) => resolve({ code: code ?? 1, ...count(output) }))
  })
}

const lastNumber = (output: string, pattern: RegExp) => {
  const matches = [...output.matchAll(pattern)]
  return Number(matches[matches.length - 1]?.[1] ?? 0)
}

ensurePackages()

console.log('test: building the app (next build and the service worker)')
const build = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], {
  stdio: 'inherit',
})
if (build.status !== 0) {
  console.log('tests: 0 passed, 1 failed')
  process.exit(1)
}

const env = {
  ...process.env,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=react-server`.trim(),
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
}

type Result = { code: number; passed: number; failed: number }

const nodeTest = (files: string[], store: string) =>
  run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=2',
      '--test-reporter=spec',
      ...files,
    ],
    { ...env, TEST_STORE: store },
    (output) => ({
      passed: lastNumber(output, /^ℹ pass (\d+)/gm),
      failed: lastNumber(output, /^ℹ fail (\d+)/gm),
    }),
  )

const browserTest = (store: string) =>
  run(
    process.execPath,
    ['node_modules/@playwright/test/cli.js', 'test'],
    { ...env, TEST_STORE: store },
    (output) => ({
      passed: lastNumber(output, /^\s+(\d+) passed/gm),
      failed: lastNumber(output, /^\s+(\d+) failed/gm),
    }),
  )

// The two-instance test brings its own PostgreSQL and Redis: once is enough.
const apiTests = testFiles('tests/api', '.test.ts')
const results: Result[] = []
console.log('test: store sqlite')
results.push(
  await nodeTest([...testFiles('tests/unit', '.test.ts'), ...apiTests], 'sqlite'),
)
results.push(await browserTest('sqlite'))
console.log('test: store postgresql')
const storeTests = apiTests.filter((file) => !file.endsWith('instances.test.ts'))
results.push(await nodeTest(storeTests, 'postgresql'))
results.push(await browserTest('postgresql'))

const passed = results.reduce((sum, result) => sum + result.passed, 0)
const ok = results.every((result) => result.code === 0)
// A runner that crashed before counting still counts as one failure.
const counted = results.reduce((sum, result) => sum + result.failed, 0)
console.log(`tests: ${passed} passed, ${Math.max(counted, ok ? 0 : 1)} failed`)
process.exit(ok ? 0 : 1)
