/**
 * What a person does and sees in the messenger, by the roles and names of
 * the accessible contract (the same a screen reader uses).
 */
import type { Locator, Page } from '@playwright/test'

/** Starts (or opens) the chat with `contact` from the chat list. */
export async function startChat(page: Page, contact: string): Promise<void> {
  await page.getByRole('button', { name: 'New chat' }).click()
  await page.getByRole('textbox', { name: 'Contact username' }).fill(contact)
  await page.getByRole('button', { name: 'Start chat' }).click()
  await page.getByRole('textbox', { name: 'Message' }).waitFor()
}

/** Opens an existing chat by clicking its entry in the chat list. */
export async function openChat(page: Page, contact: string): Promise<void> {
  await chatEntry(page, contact).click()
  await page.getByRole('textbox', { name: 'Message' }).waitFor()
}

/** Types a message and presses Send. */
export async function send(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message' }).fill(text)
  await page.getByRole('button', { name: 'Send' }).click()
}

export function chatEntry(page: Page, contact: string): Locator {
  return page.getByRole('list', { name: 'Chats' }).getByRole('listitem').filter({
    hasText: contact,
  })
}

export function messages(page: Page): Locator {
  return page.getByRole('list', { name: 'Messages' }).getByRole('listitem')
}

export function message(page: Page, text: string): Locator {
  return messages(page).filter({ hasText: text })
}

/** The tick of an own message: its accessible name is the status. */
export function tick(page: Page, text: string): Locator {
  return message(page, text).getByRole('img')
}

/** The entries of the "Devices" list under "Linked devices". */
export function deviceEntries(page: Page): Locator {
  return page.getByRole('list', { name: 'Devices' }).getByRole('listitem')
}

/** Opens "Linked devices", asks for a link code and returns it as shown. */
export async function showLinkCode(page: Page): Promise<string> {
  await page.getByRole('button', { name: 'Linked devices' }).click()
  await page.getByRole('button', { name: 'Link a new device' }).click()
  const code = page.getByLabel('Link code', { exact: true })
  await code.waitFor()
  return (await code.textContent()) ?? ''
}
