import { expect, test } from './fixtures'
import { chatEntry, message, send, startChat } from './chat'

test('on a phone the chat replaces the list, and Back returns to it', async ({
  person,
}) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await alice.page.setViewportSize({ width: 360, height: 740 })

  await startChat(alice.page, bob.username)
  await expect(alice.page.getByRole('list', { name: 'Chats' })).toBeHidden()
  await alice.page.getByRole('button', { name: 'Back' }).click()
  await expect(chatEntry(alice.page, bob.username)).toBeVisible()
})

test('on a wide screen the list and the chat stand side by side', async ({ person }) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await alice.page.setViewportSize({ width: 1280, height: 800 })

  await startChat(alice.page, bob.username)
  await send(alice.page, 'Side by side')

  await expect(chatEntry(alice.page, bob.username)).toContainText('Side by side')
  await expect(message(alice.page, 'Side by side')).toBeVisible()
  await expect(alice.page.getByRole('button', { name: 'Back' })).toBeHidden()
})

test('Enter sends, Shift+Enter breaks the line', async ({ person }) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await startChat(alice.page, bob.username)
  const box = alice.page.getByRole('textbox', { name: 'Message' })

  await box.fill('Line one')
  await box.press('Shift+Enter')
  await box.pressSequentially('line two')
  await box.press('Enter')

  await expect(box).toHaveValue('')
  await expect(message(alice.page, 'Line one')).toContainText('Line one\nline two')
})

test('the safety number is 60 digits in 12 groups of 5, the same on both sides', async ({
  person,
}) => {
  const alice = await person('alice')
  const bob = await person('bob')
  await startChat(alice.page, bob.username)
  await startChat(bob.page, alice.username)

  const read = async (page: typeof alice.page) => {
    await page.getByRole('button', { name: 'Verify safety number' }).click()
    const digits = page.getByRole('dialog').locator('.safety-number')
    await expect(digits).toHaveText(/\d{5}/)
    const text = await digits.innerText()
    return text.split(/\s+/).filter(Boolean)
  }
  const seenByAlice = await read(alice.page)
  const seenByBob = await read(bob.page)

  expect(seenByAlice).toHaveLength(12)
  for (const group of seenByAlice) expect(group).toMatch(/^\d{5}$/)
  expect(seenByBob).toEqual(seenByAlice)
})

test('a stranger username is refused with a clear message', async ({ person }) => {
  const alice = await person('alice')

  await alice.page.getByRole('button', { name: 'New chat' }).click()
  await alice.page
    .getByRole('textbox', { name: 'Contact username' })
    .fill('nobody_here_x')
  await alice.page.getByRole('button', { name: 'Start chat' }).click()

  await expect(alice.page.getByRole('alert').filter({ hasText: 'No one' })).toHaveText(
    'No one is called "nobody_here_x".',
  )
})

test('the chat header says when the contact is online', async ({ person }) => {
  const alice = await person('alice')
  const bob = await person('bob')

  await startChat(alice.page, bob.username)

  await expect(alice.page.getByText('online', { exact: true })).toBeVisible()
})
