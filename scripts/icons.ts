/**
 * `node --import tsx scripts/icons.ts`: renders the app icons in
 * public/icons from their SVG sources with the test Chromium. The PNGs are
 * committed; run this again only after changing an SVG.
 */
import { readFile } from 'node:fs/promises'

import { chromium } from '@playwright/test'

import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../playwright.config'

const ICONS = [
  { source: 'icon.svg', output: 'icon-192.png', size: 192 },
  { source: 'icon.svg', output: 'icon-512.png', size: 512 },
  { source: 'maskable.svg', output: 'maskable-512.png', size: 512 },
  // iOS rounds the corners itself and shows transparency as black.
  { source: 'maskable.svg', output: 'apple-touch-icon.png', size: 180 },
]

const browser = await chromium.launch({
  executablePath: CHROMIUM_PATH,
  args: CHROMIUM_ARGS,
})
try {
  for (const icon of ICONS) {
    const svg = await readFile(`public/icons/${icon.source}`, 'utf8')
    const page = await browser.newPage({
      viewport: { width: icon.size, height: icon.size },
    })
    await page.setContent(
      `<style>html,body{margin:0;background:transparent}svg{display:block;width:100vw;height:100vh}</style>${svg}`,
    )
    await page.screenshot({ path: `public/icons/${icon.output}`, omitBackground: true })
    await page.close()
    console.log(`icons: wrote public/icons/${icon.output}`)
  }
} finally {
  await browser.close()
}
