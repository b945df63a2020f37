/**
 * Bytes changed in the relay's database: the recipient's device finds the
 * envelope does not authenticate, drops it with a log line and never shows
 * it, and the session goes on working for the messages after it.
 */

import { closeApp, message, messages, openChat, send, startChat, tick } from './chat'
import { expect, test } from './fixtures'

test('a corrupted envelope is dropped with a log line; the next message still arrives', async ({
  person,
  server,
}) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await startChat(alice.page, bob.username)
  await send(alice.page, 'Before the tampering')
  await expect(tick(alice.page, 'Before the tampering')).toHaveAccessibleName('Delivered')

  await closeApp(bob, server.url)
  await send(alice.page, 'This one gets tampered with')
  await expect(tick(alice.page, 'This one gets tampered with')).toHaveAccessibleName(
    'Sent',
  )

  // Flip one byte inside the ciphertext of the envelope waiting for Bob.
  const [row] = await server.query<{ device: string; seq: number; content: Buffer }>(
    `SELECT e."recipientDeviceId" AS device, e."seq" AS seq, e."content" AS content
     FROM "Envelope" e JOIN "Device" d ON d."id" = e."recipientDeviceId"
     JOIN "Account" a ON a."id" = d."accountId" WHERE a."username" = ?`,
    bob.username,
  )
  const content = Buffer.from(row.content)
  content[content.length - 40] ^= 0x01
  await server.query(
    'UPDATE "Envelope" SET "content" = ? WHERE "recipientDeviceId" = ? AND "seq" = ?',
    content,
    row.device,
    row.seq,
  )

  await send(alice.page, 'After the tampering')
  const logged: string[] = []
  bob.context.on('console', (entry) => logged.push(entry.text()))
  bob.page = await bob.openPage()
  await openChat(bob.page, alice.username)

  await expect(message(bob.page, 'After the tampering')).toHaveCount(1)
  await expect(message(bob.page, 'This one gets tampered with')).toHaveCount(0)
  await expect(messages(bob.page)).toHaveCount(2)
  expect(logged.some((line) => line.includes('[receiver] envelope dropped'))).toBe(true)
  await expect(tick(alice.page, 'After the tampering')).toHaveAccessibleName('Read')
  await expect(tick(alice.page, 'This one gets tampered with')).toHaveAccessibleName(
    'Sent',
  )

  // The session is whole: a reply goes back and a new message comes in.
  await send(bob.page, 'I only got the first and the last')
  await expect(message(alice.page, 'I only got the first and the last')).toHaveCount(1)
  await send(alice.page, 'Odd. Here is another')
  await expect(message(bob.page, 'Odd. Here is another')).toHaveCount(1)
})
