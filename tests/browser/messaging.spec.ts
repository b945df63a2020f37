import { expect, test } from './fixtures'
import { chatEntry, message, messages, openChat, send, startChat, tick } from './chat'

test('a message online goes Sent, Delivered, then Read, and a reply comes back', async ({
  person,
}) => {
  const alice = await person('alice')
  const bob = await person('bob')

  await startChat(alice.page, bob.username)
  await send(alice.page, 'Are you there, Bob?')

  await expect(tick(alice.page, 'Are you there, Bob?')).toHaveAccessibleName('Delivered')
  await expect(chatEntry(bob.page, alice.username)).toContainText('1 unread')
  await expect(chatEntry(bob.page, alice.username)).toContainText('Are you there, Bob?')

  await openChat(bob.page, alice.username)
  await expect(message(bob.page, 'Are you there, Bob?')).toBeVisible()
  await expect(tick(alice.page, 'Are you there, Bob?')).toHaveAccessibleName('Read')
  await expect(chatEntry(bob.page, alice.username)).not.toContainText('unread')

  await send(bob.page, 'Here I am, Alice.')
  await expect(message(alice.page, 'Here I am, Alice.')).toBeVisible()
  await expect(tick(bob.page, 'Here I am, Alice.')).toHaveAccessibleName('Read')
})

test('with the recipient away the tick stays Sent; reopened, messages arrive in order', async ({
  person,
}) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await bob.page.close()
  const texts = ['First of three', 'Second of three', 'Third of three']

  await startChat(alice.page, bob.username)
  for (const text of texts) await send(alice.page, text)
  for (const text of texts) {
    await expect(tick(alice.page, text)).toHaveAccessibleName('Sent')
  }
  await alice.page.waitForTimeout(1_000)
  for (const text of texts) {
    await expect(tick(alice.page, text)).toHaveAccessibleName('Sent')
  }

  const reopened = await bob.openPage()
  await expect(chatEntry(reopened, alice.username)).toContainText('3 unread')
  for (const text of texts) {
    await expect(tick(alice.page, text)).toHaveAccessibleName('Delivered')
  }
  await openChat(reopened, alice.username)
  await expect(messages(reopened)).toHaveText(texts.map((text) => new RegExp(text)))
  for (const text of texts) {
    await expect(tick(alice.page, text)).toHaveAccessibleName('Read')
  }
})

test('a message queued when the server is killed arrives once after the restart', async ({
  person,
  server,
}) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await bob.page.close()
  await startChat(alice.page, bob.username)
  await send(alice.page, 'Queued before the crash')
  await expect(tick(alice.page, 'Queued before the crash')).toHaveAccessibleName('Sent')

  await server.kill('SIGKILL')
  await server.restart()

  const reopened = await bob.openPage()
  await openChat(reopened, alice.username)
  await expect(message(reopened, 'Queued before the crash')).toHaveCount(1)
  // Alice's page reconnects by itself and sees the receipts.
  await expect(tick(alice.page, 'Queued before the crash')).toHaveAccessibleName('Read')
  await send(alice.page, 'After the restart')
  await expect(message(reopened, 'After the restart')).toHaveCount(1)
  await reopened.reload()
  await openChat(reopened, alice.username)
  await expect(message(reopened, 'Queued before the crash')).toHaveCount(1)
})

test('a message written offline is Pending, then delivered once when back online', async ({
  person,
}) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await startChat(alice.page, bob.username)
  await send(alice.page, 'Warm-up message')
  await expect(tick(alice.page, 'Warm-up message')).toHaveAccessibleName('Delivered')

  await alice.context.setOffline(true)
  await send(alice.page, 'Written on the train')
  await expect(tick(alice.page, 'Written on the train')).toHaveAccessibleName('Pending')
  await alice.page.waitForTimeout(1_500)
  await expect(tick(alice.page, 'Written on the train')).toHaveAccessibleName('Pending')

  await alice.context.setOffline(false)
  await expect(tick(alice.page, 'Written on the train')).toHaveAccessibleName('Delivered')
  await openChat(bob.page, alice.username)
  await expect(message(bob.page, 'Written on the train')).toHaveCount(1)
})

test('the outbox survives a reload and sends by itself when the relay is reachable', async ({
  person,
}) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await startChat(alice.page, bob.username)
  await alice.context.route('**/api/messages', (route) =>
    route.abort('internetdisconnected'),
  )

  await send(alice.page, 'Kept in the outbox')
  await expect(tick(alice.page, 'Kept in the outbox')).toHaveAccessibleName('Pending')
  await alice.page.reload()
  await openChat(alice.page, bob.username)
  await expect(tick(alice.page, 'Kept in the outbox')).toHaveAccessibleName('Pending')

  await alice.context.unroute('**/api/messages')
  await expect(tick(alice.page, 'Kept in the outbox')).toHaveAccessibleName('Delivered', {
    timeout: 20_000,
  })
  await openChat(bob.page, alice.username)
  await expect(message(bob.page, 'Kept in the outbox')).toHaveCount(1)
})
