import { readFile } from 'node:fs/promises'

import { expect, test } from './fixtures'
import { message, messages, openChat, send, startChat } from './chat'

test('two tabs and reloads of one device show every message exactly once', async ({
  person,
}) => {
  const alice = await person('alice')
  const bob = await person('bob')
  const secondTab = await bob.openPage()
  await startChat(alice.page, bob.username)
  const texts = Array.from({ length: 8 }, (_, index) => `Numbered message ${index + 1}.`)

  for (const [index, text] of texts.entries()) {
    await send(alice.page, text)
    // Reload one of Bob's tabs while messages are on their way to both.
    if (index === 3) await bob.page.reload()
  }

  for (const page of [bob.page, secondTab]) {
    await openChat(page, alice.username)
    await expect(messages(page)).toHaveText(texts.map((text) => new RegExp(text)))
  }
  await bob.page.reload()
  await openChat(bob.page, alice.username)
  await expect(messages(bob.page)).toHaveText(texts.map((text) => new RegExp(text)))
})

test('the server database holds none of the texts sent', async ({ person, server }) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await bob.page.close()
  const secrets = ['The vault code is 4417', 'Meet under the old oak at noon']

  await startChat(alice.page, bob.username)
  for (const secret of secrets) await send(alice.page, secret)
  // Both are stored on the server, waiting for Bob.
  for (const secret of secrets) {
    await expect(message(alice.page, secret).getByRole('img')).toHaveAccessibleName(
      'Sent',
    )
  }

  const stored = Buffer.concat(
    await Promise.all(
      server.storeFiles().map((file) => readFile(file).catch(() => Buffer.alloc(0))),
    ),
  )
  expect(stored.length).toBeGreaterThan(0)
  for (const secret of secrets) {
    expect(stored.includes(Buffer.from(secret, 'utf8'))).toBe(false)
    expect(stored.includes(Buffer.from(secret, 'utf16le'))).toBe(false)
  }
  expect(server.output()).not.toContain(secrets[0])

  const reopened = await bob.openPage()
  await openChat(reopened, alice.username)
  for (const secret of secrets) await expect(message(reopened, secret)).toHaveCount(1)
})
