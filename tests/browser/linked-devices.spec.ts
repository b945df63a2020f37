import { TestDevice } from '../support/device'
import { expect, test } from './fixtures'
import {
  chatEntry,
  deviceEntries,
  message,
  openChat,
  send,
  showLinkCode,
  startChat,
  tick,
} from './chat'

test('a message reaches all four devices; reading on one shows Read everywhere', async ({
  person,
  link,
}) => {
  const a1 = await person('alice')
  const b1 = await person('bob')
  const a2 = await link(a1)
  const b2 = await link(b1)

  await startChat(a1.page, b1.username)
  await send(a1.page, 'Hello to all four devices')

  await expect(chatEntry(b1.page, a1.username)).toContainText('1 unread')
  await expect(chatEntry(b2.page, a1.username)).toContainText('1 unread')
  await openChat(a2.page, b1.username)
  await expect(message(a2.page, 'Hello to all four devices')).toBeVisible()
  await expect(tick(a1.page, 'Hello to all four devices')).toHaveAccessibleName(
    'Delivered',
  )

  await openChat(b2.page, a1.username)
  await expect(tick(a1.page, 'Hello to all four devices')).toHaveAccessibleName('Read')
  await expect(tick(a2.page, 'Hello to all four devices')).toHaveAccessibleName('Read')
  await expect(chatEntry(b1.page, a1.username)).not.toContainText('unread')

  await send(b2.page, 'Answered from the second phone')
  await expect(message(a1.page, 'Answered from the second phone')).toBeVisible()
  await expect(message(a2.page, 'Answered from the second phone')).toBeVisible()
  await openChat(b1.page, a1.username)
  await expect(message(b1.page, 'Answered from the second phone')).toHaveCount(1)
})

test('a linked device that was closed gets the messages queued meanwhile', async ({
  person,
  link,
}) => {
  const a1 = await person('alice')
  const b1 = await person('bob')
  const b2 = await link(b1)
  await b2.page.close()

  await startChat(a1.page, b1.username)
  await send(a1.page, 'Queued for the closed phone')
  await expect(tick(a1.page, 'Queued for the closed phone')).toHaveAccessibleName(
    'Delivered',
  )

  const reopened = await b2.openPage()
  await openChat(reopened, a1.username)
  await expect(message(reopened, 'Queued for the closed phone')).toHaveCount(1)
})

test('a newly linked device receives the recent history', async ({ person, link }) => {
  const a1 = await person('alice')
  const b1 = await person('bob')
  await startChat(a1.page, b1.username)
  await send(a1.page, 'History, first line')
  await openChat(b1.page, a1.username)
  await send(b1.page, 'History, the reply')
  await expect(message(a1.page, 'History, the reply')).toBeVisible()
  // Five long messages of 12 KB each in UTF-8: the history needs several parts.
  const long = (index: number) => `Long ${index} ${'漢字'.repeat(2_000)}`
  for (let index = 0; index < 5; index++) await send(a1.page, long(index))
  await expect(tick(a1.page, 'Long 4 ')).toHaveAccessibleName('Read')

  const a2 = await link(a1)

  await expect(a2.page.getByRole('progressbar')).toBeHidden({ timeout: 20_000 })
  await openChat(a2.page, b1.username)
  await expect(message(a2.page, 'History, first line')).toHaveCount(1)
  await expect(message(a2.page, 'History, the reply')).toHaveCount(1)
  for (let index = 0; index < 5; index++) {
    await expect(message(a2.page, `Long ${index} `)).toHaveCount(1)
  }
})

test('an unlinked device stops working and receives nothing new', async ({
  person,
  link,
}) => {
  const a1 = await person('alice')
  const b1 = await person('bob')
  const b2 = await link(b1)
  await startChat(a1.page, b1.username)
  await send(a1.page, 'Before the unlink')
  await expect(chatEntry(b2.page, a1.username)).toContainText('1 unread')

  b1.page.on('dialog', (dialog) => void dialog.accept())
  await b1.page.getByRole('button', { name: 'Linked devices' }).click()
  const devices = deviceEntries(b1.page)
  await expect(devices).toHaveCount(2)
  await devices.filter({ hasNotText: 'This device' }).getByRole('button').click()
  await expect(devices).toHaveCount(1)

  const notice = b2.page.getByRole('alert').filter({ hasText: 'no longer linked' })
  await expect(notice).toBeVisible()
  await send(a1.page, 'After the unlink')
  await openChat(b1.page, a1.username)
  await expect(message(b1.page, 'After the unlink')).toBeVisible()
  await b2.page.reload()
  await expect(notice).toBeVisible()
  await expect(b2.page.getByText('After the unlink')).toHaveCount(0)

  await b2.page.getByRole('button', { name: 'Delete this device’s data' }).click()
  await expect(b2.page.getByRole('button', { name: 'Create account' })).toBeVisible()
})

test('a device can unlink itself', async ({ person, link }) => {
  const a1 = await person('alice')
  const a2 = await link(a1)
  a2.page.on('dialog', (dialog) => void dialog.accept())

  await a2.page.getByRole('button', { name: 'Linked devices' }).click()
  await a2.page.getByRole('button', { name: 'Unlink this device' }).click()

  await expect(a2.page.getByRole('button', { name: 'Create account' })).toBeVisible()
  await a1.page.reload()
  await a1.page.getByRole('button', { name: 'Linked devices' }).click()
  await expect(deviceEntries(a1.page)).toHaveCount(1)
})

test('a request that does not prove it read the code is not linked', async ({
  person,
  server,
}) => {
  const a1 = await person('alice')
  const code = await showLinkCode(a1.page)
  const linkId = code.split('.')[0] ?? ''
  // Someone who saw the link id (the relay, say) but not the secret half.
  const { device } = new TestDevice(server.url, a1.username).registrationBody(3)

  const response = await fetch(`${server.url}/api/links/${linkId}/request`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.77' },
    body: JSON.stringify({
      name: 'Impostor',
      identityKey: device.identityKey,
      signedPrekey: device.signedPrekey,
      lastResortKemPrekey: device.lastResortKemPrekey,
      oneTimePrekeys: device.oneTimePrekeys,
      oneTimeKemPrekeys: device.oneTimeKemPrekeys,
      ephemeralKey: Buffer.alloc(32, 1).toString('base64'),
      proof: Buffer.alloc(32, 2).toString('base64'),
    }),
  })

  expect(response.status).toBe(202)
  await expect(
    a1.page.getByRole('alert').filter({ hasText: 'without the right code' }),
  ).toBeVisible()
  await expect(a1.page.getByRole('button', { name: 'Link it' })).toHaveCount(0)
  await expect(deviceEntries(a1.page)).toHaveCount(1)
})

test('a device list with a forged signature in the server database is refused', async ({
  person,
  server,
}) => {
  const a1 = await person('alice')
  const b1 = await person('bob')
  await startChat(a1.page, b1.username)
  await send(a1.page, 'Sent while the list was genuine')
  await expect(tick(a1.page, 'Sent while the list was genuine')).toHaveAccessibleName(
    'Delivered',
  )

  await server.query(
    'UPDATE "Account" SET "deviceListSig" = ? WHERE "username" = ?',
    Buffer.alloc(64, 7),
    b1.username,
  )
  await a1.page.reload()
  await openChat(a1.page, b1.username)
  await send(a1.page, 'Must not go to an unverified list')

  await expect(tick(a1.page, 'Must not go to an unverified list')).toHaveAccessibleName(
    'Failed',
  )
  await expect(
    a1.page.getByRole('alert').filter({ hasText: 'does not carry their signature' }),
  ).toBeVisible()
  await openChat(b1.page, a1.username)
  await expect(message(b1.page, 'Must not go to an unverified list')).toHaveCount(0)
})
