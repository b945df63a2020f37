/**
 * `npm run bench:crypto`: PQXDH session setup on both sides and one message
 * encrypted and decrypted, in Node and in headless Chromium (prints; not a
 * test). Targets: setup ≤ 10 ms, a message ≤ 0.3 ms in Chromium.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

import { build } from 'esbuild'
import { chromium } from '@playwright/test'

import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../playwright.config'
import { runCryptoBench, type CryptoFigures } from './crypto-run'

const round = (ms: number) => Number(ms.toFixed(3))

const node = await runCryptoBench()

const bundle = await build({
  entryPoints: ['bench/crypto-run.ts'],
  bundle: true,
  format: 'iife',
  globalName: 'cryptoBench',
  platform: 'browser',
  write: false,
  minify: true,
})
const browser = await chromium.launch({
  executablePath: CHROMIUM_PATH,
  args: CHROMIUM_ARGS,
})
let inChromium: CryptoFigures
try {
  // WebCrypto needs a secure context: a page served from 127.0.0.1.
  const server = http.createServer((_, response) =>
    response.end('<!doctype html><title>crypto bench</title>'),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const page = await browser.newPage()
  await page.goto(`http://127.0.0.1:${port}/`)
  server.close()
  await page.addScriptTag({ content: bundle.outputFiles[0].text })
  inChromium = await page.evaluate(() =>
    (
      globalThis as unknown as {
        cryptoBench: { runCryptoBench: () => Promise<CryptoFigures> }
      }
    ).cryptoBench.runCryptoBench(),
  )
} finally {
  await browser.close()
}

console.log(
  '\nTidings encryption core: PQXDH (X25519 + ML-KEM-768), Double Ratchet, ' +
    `XChaCha20-Poly1305; X25519 by ${node.x25519} in Node, ${inChromium.x25519} in Chromium`,
)
console.table({
  'Node: setup, both sides (ms)': {
    p50: round(node.setupMs.p50),
    mean: round(node.setupMs.mean),
    runs: node.setupRuns,
  },
  'Node: one message, enc + dec (ms)': {
    p50: round(node.messageMs.p50),
    mean: round(node.messageMs.mean),
    runs: node.messageRuns,
  },
  'Chromium: setup, both sides (ms)': {
    p50: round(inChromium.setupMs.p50),
    mean: round(inChromium.setupMs.mean),
    runs: inChromium.setupRuns,
  },
  'Chromium: one message, enc + dec (ms)': {
    p50: round(inChromium.messageMs.p50),
    mean: round(inChromium.messageMs.mean),
    runs: inChromium.messageRuns,
  },
})
