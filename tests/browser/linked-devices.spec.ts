import Database from 'better-sqlite3'

import { expect, test } from './fixtures'
import { chatEntry, message, openChat, send, startChat, tick } from './chat'

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

  const a2 = await link(a1)

  await expect(a2.page.getByRole('progressbar')).toBeHidden({ timeout: 20_000 })
  await openChat(a2.page, b1.username)
  await expect(message(a2.page, 'History, first line')).toHaveCount(1)
  await expect(message(a2.page, 'History, the reply')).toHaveCount(1)
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
  const devices = b1.page.getByRole('list', { name: 'Devices' }).getByRole('listitem')
  await expect(devices).toHaveCount(2)
  await devices.filter({ hasNotText: 'This device' }).getByRole('button').click()
  await expect(devices).toHaveCount(1)

  await expect(b2.page.getByRole('button', { name: 'Create account' })).toBeVisible()
  await send(a1.page, 'After the unlink')
  await openChat(b1.page, a1.username)
  await expect(message(b1.page, 'After the unlink')).toBeVisible()
  await b2.page.reload()
  await expect(b2.page.getByRole('button', { name: 'Create account' })).toBeVisible()
  await expect(b2.page.getByText('After the unlink')).toHaveCount(0)
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

  const db = new Database(server.dbFile)
  db.prepare('UPDATE "Account" SET "deviceListSig" = ? WHERE "username" = ?').run(
    Buffer.alloc(64, 7),
    b1.username,
  )
  db.close()
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
