/**
 * Benchmark, not a test of speed: the time from clicking Send on one browser
 * to the bubble appearing on the other, over 20 messages. It prints the
 * figures (target: p50 at most 30 ms, max at most 150 ms) and asserts only
 * that every message arrived. Messages go one at a time, 300 ms apart.
 */
import { expect, test } from './fixtures'
import { message, openChat, send, startChat } from './chat'

const MESSAGES = 20
const PAUSE_MS = 300

declare global {
  interface Window {
    sendClicks?: number[]
    bubbles?: Record<string, number>
  }
}

test('benchmark: Send on one browser to the bubble on the other', async ({ person }) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await startChat(alice.page, bob.username)
  await send(alice.page, 'Warm-up: starts the session')
  await openChat(bob.page, alice.username)
  await expect(message(bob.page, 'Warm-up: starts the session')).toBeVisible()

  // Clock readings in the pages themselves: the moment the click reaches
  // Alice's page, and the moment Bob's page inserts the bubble.
  await alice.page.evaluate(() => {
    window.sendClicks = []
    document.addEventListener(
      'click',
      (event) => {
        const target = event.target as HTMLElement
        if (target.closest('button')?.textContent === 'Send') {
          window.sendClicks!.push(performance.timeOrigin + performance.now())
        }
      },
      { capture: true },
    )
  })
  await bob.page.evaluate(() => {
    window.bubbles = {}
    new MutationObserver(() => {
      const now = performance.timeOrigin + performance.now()
      for (const item of document.querySelectorAll('[aria-label="Messages"] li')) {
        const text = item.querySelector('.text')?.textContent ?? ''
        if (text.startsWith('Timed ') && !(text in window.bubbles!)) {
          window.bubbles![text] = now
        }
      }
    }).observe(document.body, { childList: true, subtree: true })
  })

  const box = alice.page.getByRole('textbox', { name: 'Message' })
  const button = alice.page.getByRole('button', { name: 'Send' })
  for (let index = 0; index < MESSAGES; index++) {
    const text = `Timed ${index}`
    await box.fill(text)
    await button.click()
    await expect(message(bob.page, text)).toBeVisible()
    // A person sends a few messages a second at most; the pause also lets
    // the receipts of the last one settle, as they would between messages.
    await alice.page.waitForTimeout(PAUSE_MS)
  }

  const clicks = await alice.page.evaluate(() => window.sendClicks ?? [])
  const bubbles = await bob.page.evaluate(() => window.bubbles ?? {})
  expect(clicks).toHaveLength(MESSAGES)
  const latencies = clicks
    .map((clickedAt, index) => (bubbles[`Timed ${index}`] ?? NaN) - clickedAt)
    .sort((a, b) => a - b)
  expect(latencies.every(Number.isFinite)).toBe(true)

  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
  console.log(
    `latency Send→bubble over ${MESSAGES} messages: ` +
      `p50 ${at(0.5).toFixed(1)} ms, p90 ${at(0.9).toFixed(1)} ms, ` +
      `max ${latencies[latencies.length - 1].toFixed(1)} ms ` +
      '(target p50 ≤ 30 ms, max ≤ 150 ms)',
  )
})
