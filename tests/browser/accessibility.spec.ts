import AxeBuilder from '@axe-core/playwright'
import type { Page } from '@playwright/test'

import { expect, test } from './fixtures'
import { send, startChat } from './chat'

/** Serious and critical axe violations on the page as it is now. */
async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze()
  return results.violations
    .filter(
      (violation) => violation.impact === 'serious' || violation.impact === 'critical',
    )
    .map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.length})`)
}

for (const colorScheme of ['light', 'dark'] as const) {
  test(`axe finds no serious violation on the main screens (${colorScheme})`, async ({
    browser,
    person,
    server,
  }) => {
    const visitor = await browser.newContext({ colorScheme })
    const onboarding = await visitor.newPage()
    await onboarding.goto(server.url)
    await onboarding.getByRole('button', { name: 'Link to an existing account' }).click()
    expect(await seriousViolations(onboarding)).toEqual([])
    await visitor.close()

    const alice = await person('alice')
    const bob = await person('bob')
    await alice.page.emulateMedia({ colorScheme })
    await startChat(alice.page, bob.username)
    await send(alice.page, 'Checking how this reads')
    await expect(alice.page.getByRole('img', { name: 'Delivered' })).toBeVisible()
    expect(await seriousViolations(alice.page)).toEqual([])

    await alice.page.getByRole('button', { name: 'Verify safety number' }).click()
    await expect(alice.page.getByRole('dialog')).toBeVisible()
    expect(await seriousViolations(alice.page)).toEqual([])
    await alice.page.getByRole('button', { name: 'Close' }).click()

    await alice.page.getByRole('button', { name: 'Linked devices' }).click()
    await alice.page.getByRole('button', { name: 'Link a new device' }).click()
    await expect(alice.page.getByLabel('Link code', { exact: true })).toBeVisible()
    expect(await seriousViolations(alice.page)).toEqual([])
  })
}
