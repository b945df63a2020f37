/**
 * The installed app, and the app closed: pushes from the relay go through a
 * real push protocol (VAPID-signed, aes128gcm-encrypted, checked and
 * decrypted by tests/support/push-service) to the service worker, which
 * fetches, decrypts, stores, acknowledges, sends receipts and notifies.
 */

import type { Page } from '@playwright/test'

import type { TestServer } from '../support/server'
import { closeApp, message, openChat, startChat, tick } from './chat'
import { expect, test, type InstalledPerson, type Person } from './fixtures'
import { subscribedKey } from './push-probe'

/**
 * Bob (installed, notifications turned on from the offer above his chats)
 * and Alice, who has opened a chat with him.
 */
async function aliceAndInstalledBob(
  person: (prefix: string) => Promise<Person>,
  installed: (prefix: string) => Promise<InstalledPerson>,
) {
  const bob = await installed('bob')
  const offer = bob.page.getByRole('region', { name: 'Notifications' })
  await offer.getByRole('button', { name: 'Turn on notifications' }).click()
  await expect(offer).toBeHidden()

  const alice = await person('alice')
  await startChat(alice.page, bob.username)
  return { alice, bob }
}

/** Types a message and presses Send; returns the time of the click. */
async function sendAt(page: Person['page'], text: string): Promise<number> {
  await page.getByRole('textbox', { name: 'Message' }).fill(text)
  const at = Date.now()
  await page.getByRole('button', { name: 'Send' }).click()
  return at
}

/** Rows of `table` whose `column` names a device of the account `username`. */
function countFor(server: TestServer, table: string, column: string, username: string) {
  return server.count(
    `SELECT count(*) AS n FROM "${table}" t
     JOIN "Device" d ON d."id" = t."${column}"
     JOIN "Account" a ON a."id" = d."accountId" WHERE a."username" = ?`,
    username,
  )
}

function notificationWith(body: string) {
  return expect.objectContaining({ body })
}

test('with the app closed, a push brings the message: notified, Delivered, shown once', async ({
  person,
  installed,
  pushService,
  server,
}) => {
  const { alice, bob } = await aliceAndInstalledBob(person, installed)
  expect(await subscribedKey(bob.page)).toBe(pushService.vapid.publicKey)
  await alice.page.getByRole('textbox', { name: 'Message' }).fill('Still there, Bob?')
  await alice.page.getByRole('button', { name: 'Send' }).click()
  await expect(tick(alice.page, 'Still there, Bob?')).toHaveAccessibleName('Delivered')

  await closeApp(bob, server.url)
  const sentAt = await sendAt(alice.page, 'Dinner at eight?')

  await expect
    .poll(() => bob.probe.notifications(), { timeout: 20_000 })
    .toContainEqual(notificationWith('Dinner at eight?'))
  const [shown] = await bob.probe.notifications()
  expect(shown?.title).toBe(alice.username)
  expect(shown?.tag).toBe(`chat:${alice.username}`)
  await expect(tick(alice.page, 'Dinner at eight?')).toHaveAccessibleName('Delivered')
  const latencies = [(shown?.timestamp ?? 0) - sentAt]

  // More while closed: still one notification for the chat, counting them all.
  const later = [9, 10, 11, 12, 13, 14, 15, 16, 17].map((hour) => `Or at ${hour}?`)
  for (const [index, text] of later.entries()) {
    const at = await sendAt(alice.page, text)
    await expect
      .poll(() => bob.probe.notifications(), { timeout: 20_000, intervals: [10] })
      .toContainEqual(notificationWith(text))
    const [latest] = await bob.probe.notifications()
    expect(latest?.title).toBe(`${alice.username} (${index + 2} messages)`)
    latencies.push((latest?.timestamp ?? 0) - at)
  }
  expect(await bob.probe.notifications()).toHaveLength(1)
  expect(pushService.refused).toEqual([])

  latencies.sort((a, b) => a - b)
  const p50 = latencies[Math.floor(latencies.length / 2)]
  console.log(
    `push latency, Send to notification with the app closed (n=${latencies.length}): ` +
      `p50 ${p50} ms, max ${latencies[latencies.length - 1]} ms`,
  )

  // What a click on the notification opens: the app at that chat.
  const reopened = await bob.context.newPage()
  await reopened.goto(`/?chat=${alice.username}`)
  await reopened.getByRole('textbox', { name: 'Message' }).waitFor()
  for (const text of ['Still there, Bob?', 'Dinner at eight?', ...later]) {
    await expect(message(reopened, text)).toHaveCount(1)
  }
  await expect(tick(alice.page, 'Or at 17?')).toHaveAccessibleName('Read')

  // Nothing is left in the relay's queue for Bob: every envelope was acknowledged.
  await expect
    .poll(() => countFor(server, 'Envelope', 'recipientDeviceId', bob.username))
    .toBe(0)
  expect(server.output()).not.toContain(bob.subscription.endpoint)
})

test('a message too large for a push wakes the app, and hidden previews hide the text', async ({
  person,
  installed,
  pushService,
  server,
}) => {
  const { alice, bob } = await aliceAndInstalledBob(person, installed)
  await bob.page.getByRole('button', { name: 'Linked devices' }).click()
  const previews = (page: Page) =>
    page.getByRole('checkbox', { name: 'Show sender and text in notifications' })
  await previews(bob.page).click()
  await expect(previews(bob.page)).not.toBeChecked()
  // Kept: still off when the app is opened again.
  await bob.page.reload()
  await bob.page.getByRole('button', { name: 'Linked devices' }).click()
  await expect(previews(bob.page)).not.toBeChecked()

  await closeApp(bob, server.url)
  const long = `A long story: ${'and then it went on. '.repeat(180)}The end.`
  await sendAt(alice.page, long)

  await expect
    .poll(() => bob.probe.notifications(), { timeout: 20_000 })
    .toContainEqual(expect.objectContaining({ title: 'Tidings', body: 'New message' }))
  const pushes = pushService.received.filter(
    (p) => p.subscriptionId === bob.subscription.id,
  )
  expect(pushes.map((p) => JSON.parse(p.text) as unknown)).toEqual([{ v: 1, wake: true }])
  await expect(tick(alice.page, long)).toHaveAccessibleName('Delivered')

  const page = await bob.openPage()
  await openChat(page, alice.username)
  await expect(message(page, 'The end.')).toHaveCount(1)
})

// 404 and 410 both mean the subscription is gone for good (RFC 8030).
for (const status of [404, 410]) {
  const title =
    `a subscription the push service answers ${status} is dropped; ` +
    'the message waits for the app'
  test(title, async ({ person, installed, pushService, server }) => {
    const { alice, bob } = await aliceAndInstalledBob(person, installed)
    await closeApp(bob, server.url)
    pushService.answerWith(bob.subscription.id, status)

    await sendAt(alice.page, 'Anyone home?')
    await expect(tick(alice.page, 'Anyone home?')).toHaveAccessibleName('Sent')
    await expect
      .poll(() => countFor(server, 'PushSubscription', 'deviceId', bob.username))
      .toBe(0)

    const page = await bob.openPage()
    await openChat(page, alice.username)
    await expect(message(page, 'Anyone home?')).toHaveCount(1)
    await expect(tick(alice.page, 'Anyone home?')).toHaveAccessibleName('Read')
  })
}

test('a push service that fails keeps the subscription; the message waits for the app', async ({
  person,
  installed,
  pushService,
  server,
}) => {
  const { alice, bob } = await aliceAndInstalledBob(person, installed)
  await closeApp(bob, server.url)
  pushService.answerWith(bob.subscription.id, 503)

  await sendAt(alice.page, 'Are you there?')
  await expect(tick(alice.page, 'Are you there?')).toHaveAccessibleName('Sent')
  await expect
    .poll(() => pushService.declined.filter((id) => id === bob.subscription.id))
    .toHaveLength(1)
  // A failure for now is not a verdict on the subscription.
  expect(await countFor(server, 'PushSubscription', 'deviceId', bob.username)).toBe(1)

  const page = await bob.openPage()
  await openChat(page, alice.username)
  await expect(message(page, 'Are you there?')).toHaveCount(1)
  expect(server.output()).not.toContain(bob.subscription.endpoint)
})

test('installable by Chromium’s own check, and opens with the server gone', async ({
  person,
  installed,
  server,
}) => {
  const bob = await installed('bob')
  const cdp = await bob.context.newCDPSession(bob.page)
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
  expect(installabilityErrors).toEqual([])
  const manifest = await cdp.send('Page.getAppManifest')
  expect(manifest.errors).toEqual([])

  const alice = await person('alice')
  await startChat(alice.page, bob.username)
  await sendAt(alice.page, 'Read me on the train')
  await expect(tick(alice.page, 'Read me on the train')).toHaveAccessibleName('Delivered')
  await expect
    .poll(() => bob.page.evaluate(() => !!navigator.serviceWorker.controller))
    .toBe(true)

  // No network and no server: the shell comes from the service worker's
  // cache, the chats and their history from IndexedDB.
  await bob.context.setOffline(true)
  await server.kill()
  try {
    await bob.page.reload()
    await openChat(bob.page, alice.username)
    await expect(message(bob.page, 'Read me on the train')).toHaveCount(1)
    await expect(bob.page.getByText('Waiting for network…')).toBeVisible()
  } finally {
    await server.restart()
    await bob.context.setOffline(false)
  }
  await expect(bob.page.getByText('Waiting for network…')).toBeHidden({ timeout: 30_000 })
})
