import {
  test as base,
  type Browser,
  type BrowserContext,
  type Page,
} from '@playwright/test'

import { startServer, type TestServer } from '../support/server'
import { showLinkCode } from './chat'

/** A person at a browser: their own context (own IndexedDB) and a page. */
export interface Person {
  username: string
  context: BrowserContext
  page: Page
  /** Opens another page of the same browser profile (a second tab, a reopened app). */
  openPage: () => Promise<Page>
}

let nextAddress = Math.floor(Math.random() * 60_000)

/**
 * A real server (next start, fresh SQLite file) per worker. It trusts
 * X-Forwarded-For, and each browser context sends its own address, so the
 * per-address limits on registration and login see separate people.
 */
export const test = base.extend<
  {
    person: (prefix: string) => Promise<Person>
    /** Links a new browser (its own context) to `owner`'s account, as a person would. */
    link: (owner: Person) => Promise<Person>
  },
  { server: TestServer }
>({
  server: [
    async ({}, use) => {
      const server = await startServer({ TRUST_PROXY: '1' })
      try {
        await use(server)
      } finally {
        await server.close()
      }
    },
    { scope: 'worker' },
  ],

  person: async ({ browser, server }, use) => {
    const contexts: BrowserContext[] = []
    await use(async (prefix) => {
      const person = await registeredPerson(browser, server.url, prefix)
      contexts.push(person.context)
      return person
    })
    for (const context of contexts) await context.close()
  },

  link: async ({ browser, server }, use) => {
    const contexts: BrowserContext[] = []
    await use(async (owner) => {
      const { context, openPage } = await newPerson(browser, server.url)
      contexts.push(context)
      const page = await openPage()

      const code = await showLinkCode(owner.page)
      await page.getByRole('button', { name: 'Link to an existing account' }).click()
      await page.getByRole('textbox', { name: 'Link code' }).fill(code)
      await page.getByRole('button', { name: 'Link device' }).click()
      await owner.page.getByRole('button', { name: 'Link it' }).click({ timeout: 20_000 })
      await page.getByRole('button', { name: 'New chat' }).waitFor({ timeout: 30_000 })
      await owner.page.getByRole('status').filter({ hasText: 'Linked' }).waitFor()
      await owner.page.getByRole('button', { name: 'Done' }).click()
      return { username: owner.username, context, page, openPage }
    })
    for (const context of contexts) await context.close()
  },
})

/** A new browser context with its own address, and a way to open pages in it. */
async function newPerson(browser: Browser, url: string) {
  const address = `198.51.${(nextAddress >> 8) & 255}.${nextAddress++ & 255}`
  const context = await browser.newContext({
    baseURL: url,
    extraHTTPHeaders: { 'x-forwarded-for': address },
  })
  const openPage = async () => {
    const page = await context.newPage()
    await page.goto('/')
    return page
  }
  return { context, openPage }
}

/** A new browser context whose page has created an account. */
async function registeredPerson(
  browser: Browser,
  url: string,
  prefix: string,
): Promise<Person> {
  const { context, openPage } = await newPerson(browser, url)
  const username = `${prefix}_${Math.random().toString(36).slice(2, 8)}`
  const page = await openPage()
  await page.getByRole('textbox', { name: 'Username' }).fill(username)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByRole('button', { name: 'New chat' }).waitFor()
  return { username, context, page, openPage }
}

export { expect } from '@playwright/test'
