/**
 * `npm test`: every test, non-zero exit on any failure.
 *   1. checks for Chromium (installs Debian's package where it may),
 *   2. builds the app once (scripts/build.ts); tests serve it with `next start`,
 *   3. unit and API integration tests (node:test),
 *   4. browser tests (Playwright driving real Chromium).
 * Ends with one line: "tests: N passed, N failed".
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return
  const isRoot = process.getuid?.() === 0
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    console.log(
      "test: Chromium is missing; installing Debian's package (apt-get install -y chromium)",
    )
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
    const install = spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], {
      stdio: 'inherit',
    })
    if (install.status === 0 && existsSync(CHROMIUM)) return
  }
  console.error(
    `test: Chromium not found at ${CHROMIUM}. Install it with: sudo apt-get install -y chromium\n` +
      '      (or point CHROMIUM_PATH at a Chromium binary)',
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

ensureChromium()

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

const nodeTests = [
  ...testFiles('tests/unit', '.test.ts'),
  ...testFiles('tests/api', '.test.ts'),
]
const unitAndApi = await run(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    ...nodeTests,
  ],
  env,
  (output) => ({
    passed: lastNumber(output, /^ℹ pass (\d+)/gm),
    failed: lastNumber(output, /^ℹ fail (\d+)/gm),
  }),
)

const browser = await run(
  process.execPath,
  ['node_modules/@playwright/test/cli.js', 'test'],
  env,
  (output) => ({
    passed: lastNumber(output, /^\s+(\d+) passed/gm),
    failed: lastNumber(output, /^\s+(\d+) failed/gm),
  }),
)

const passed = unitAndApi.passed + browser.passed
const ok = unitAndApi.code === 0 && browser.code === 0
// A runner that crashed before counting still counts as one failure.
const failed = Math.max(unitAndApi.failed + browser.failed, ok ? 0 : 1)
console.log(`tests: ${passed} passed, ${failed} failed`)
process.exit(ok ? 0 : 1)
