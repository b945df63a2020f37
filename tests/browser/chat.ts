/**
 * What a person does and sees in the messenger, by the roles and names of
 * the accessible contract (the same a screen reader uses).
 */
import { expect, type Locator, type Page } from '@playwright/test'

import { TestDevice } from '../support/device'

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

/** Types a message, presses Send, and waits for the box to empty (it is stored then). */
export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' })
  await box.fill(text)
  await page.getByRole('button', { name: 'Send' }).click()
  await expect(box).toHaveValue('')
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

/**
 * Closes the app's page and waits until the relay sees no open stream of
 * the person's account (asked as another account would ask).
 */
export async function closeApp(
  person: { page: Page; username: string },
  serverUrl: string,
): Promise<void> {
  await person.page.close()
  const observer = await new TestDevice(
    serverUrl,
    `watch_${Math.random().toString(36).slice(2, 8)}`,
  ).register(1)
  await expect
    .poll(async () => {
      const response = await observer.request(
        'GET',
        `/api/accounts/${person.username}/presence`,
      )
      return ((await response.json()) as { online: boolean }).online
    })
    .toBe(false)
}
