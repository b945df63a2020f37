import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {
  test as base,
  type Browser,
  type BrowserContext,
  type BrowserType,
  type Page,
} from '@playwright/test'
import webpush from 'web-push'

import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../playwright.config'
import {
  startPushService,
  type PushService,
  type TestSubscription,
} from '../support/push-service'
import { startServer, type TestServer } from '../support/server'
import { showLinkCode } from './chat'
import { installFakePushManager, openPushProbe, type PushProbe } from './push-probe'

/** A person at a browser: their own context (own IndexedDB) and a page. */
export interface Person {
  username: string
  context: BrowserContext
  page: Page
  /** Opens another page of the same browser profile (a second tab, a reopened app). */
  openPage: () => Promise<Page>
}

/**
 * A person whose browser keeps its profile on disk (as an installed app's
 * does), with notifications allowed and a push subscription at the test
 * push service: its pushes reach the service worker through `probe`.
 */
export interface InstalledPerson extends Person {
  subscription: TestSubscription
  /** A same-origin page outside the app, for the DevTools protocol. */
  probe: PushProbe
}

let nextAddress = Math.floor(Math.random() * 60_000)

/**
 * A real server (the program `npm start` runs, on a fresh store) per
 * worker. It trusts X-Forwarded-For, and each browser context sends its own
 * address, so the per-address limits on registration and login see
 * separate people.
 */
export const test = base.extend<
  {
    person: (prefix: string) => Promise<Person>
    /** Links a new browser (its own context) to `owner`'s account, as a person would. */
    link: (owner: Person) => Promise<Person>
    /** A registered person in a persistent profile, pushes delivered for real. */
    installed: (prefix: string) => Promise<InstalledPerson>
  },
  { server: TestServer; pushService: PushService; plaintextAudit: void }
>({
  pushService: [
    async ({}, use) => {
      const service = await startPushService({
        ...webpush.generateVAPIDKeys(),
        subject: 'mailto:operator@tidings.invalid',
      })
      try {
        await use(service)
      } finally {
        await service.close()
      }
    },
    { scope: 'worker' },
  ],

  server: [
    async ({ pushService }, use) => {
      const server = await startServer({
        TRUST_PROXY: '1',
        VAPID_PUBLIC_KEY: pushService.vapid.publicKey,
        VAPID_PRIVATE_KEY: pushService.vapid.privateKey,
        VAPID_SUBJECT: pushService.vapid.subject,
        NODE_EXTRA_CA_CERTS: pushService.caFile,
      })
      try {
        await use(server)
      } finally {
        await server.close()
      }
    },
    { scope: 'worker' },
  ],

  /**
   * After all the worker's tests: no message text that any device stored
   * is in the relay's database files, its log, or any push it sent.
   */
  plaintextAudit: [
    async ({ server, pushService }, use) => {
      await use()
      const places = server.storeFiles().filter((file) => existsSync(file))
      const haystacks = [
        ...places.map((file) => ({
          where: path.basename(file),
          bytes: readFileSync(file),
        })),
        { where: 'server log', bytes: Buffer.from(server.output()) },
        ...pushService.received.map((push, index) => ({
          where: `push ${index}`,
          bytes: Buffer.from(push.text),
        })),
      ]
      const found: string[] = []
      for (const text of STORED_TEXTS) {
        const needle = Buffer.from(text)
        for (const { where, bytes } of haystacks) {
          if (bytes.includes(needle)) found.push(`"${text.slice(0, 40)}" in ${where}`)
        }
      }
      console.log(
        `plaintext audit: ${STORED_TEXTS.size} message texts, ${haystacks.length} places ` +
          `(database files, server log, ${pushService.received.length} pushes): ` +
          `${found.length} found`,
      )
      if (STORED_TEXTS.size === 0) throw new Error('plaintext audit: no texts collected')
      if (found.length > 0) throw new Error(`plaintext found: ${found.join('; ')}`)
    },
    { scope: 'worker', auto: true },
  ],

  person: async ({ browser, server }, use) => {
    const contexts: BrowserContext[] = []
    await use(async (prefix) => {
      const person = await registeredPerson(browser, server.url, prefix)
      contexts.push(person.context)
      return person
    })
    for (const context of contexts) await closeCollecting(context, server.url)
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
    for (const context of contexts) await closeCollecting(context, server.url)
  },

  installed: async ({ playwright, server, pushService }, use) => {
    const opened: { context: BrowserContext; dir: string }[] = []
    await use(async (prefix) => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'tidings-profile-'))
      const context = await launchProfile(playwright.chromium, dir, server.url)
      opened.push({ context, dir })

      await context.grantPermissions(['notifications'], { origin: server.url })
      const subscription = pushService.subscribe()
      await installFakePushManager(context, subscription)
      const probe = await openPushProbe(context, server.url)
      pushService.onPush(subscription.id, (push) => probe.deliver(push.text))

      const openPage = async () => {
        const page = await context.newPage()
        await page.goto('/')
        return page
      }
      const person = await createAccount(openPage, prefix)
      return { ...person, context, openPage, subscription, probe }
    })
    for (const { context, dir } of opened) {
      await closeCollecting(context, server.url)
      await rm(dir, { recursive: true, force: true })
    }
  },
})

/** Message texts that devices stored during this worker's tests. */
const STORED_TEXTS = new Set<string>()

/**
 * Notes the message texts the context's device stored (read from its
 * IndexedDB by a same-origin page outside the app), then closes it. Texts
 * under 8 characters are left out: they could occur in any binary file.
 */
async function closeCollecting(context: BrowserContext, url: string): Promise<void> {
  try {
    const page = await context.newPage()
    await page.goto(`${url}/api/health`)
    const bodies = await page.evaluate(async () => {
      const names = (await indexedDB.databases()).map((db) => db.name)
      if (!names.includes('tidings')) return []
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('tidings')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(new Error('open failed'))
      })
      const all = await new Promise<{ body: string }[]>((resolve, reject) => {
        const request = db.transaction('messages').objectStore('messages').getAll()
        request.onsuccess = () => resolve(request.result as { body: string }[])
        request.onerror = () => reject(new Error('read failed'))
      })
      db.close()
      return all.map((message) => message.body)
    })
    for (const body of bodies) if (body.length >= 8) STORED_TEXTS.add(body)
  } catch (error) {
    console.log(
      `plaintext audit: a context could not be read: ${(error as Error).message}`,
    )
  }
  await context.close()
}

/** A persistent Chromium profile in `dir`, with its own address. */
function launchProfile(chromium: BrowserType, dir: string, url: string) {
  return chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    baseURL: url,
    extraHTTPHeaders: { 'x-forwarded-for': nextPersonAddress() },
  })
}

function nextPersonAddress(): string {
  return `198.51.${(nextAddress >> 8) & 255}.${nextAddress++ & 255}`
}

/** A new browser context with its own address, and a way to open pages in it. */
async function newPerson(browser: Browser, url: string) {
  const context = await browser.newContext({
    baseURL: url,
    extraHTTPHeaders: { 'x-forwarded-for': nextPersonAddress() },
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
  return { ...(await createAccount(openPage, prefix)), context, openPage }
}

/** Opens the app and creates an account named `prefix` plus a random part. */
async function createAccount(openPage: () => Promise<Page>, prefix: string) {
  const username = `${prefix}_${Math.random().toString(36).slice(2, 8)}`
  const page = await openPage()
  await page.getByRole('textbox', { name: 'Username' }).fill(username)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByRole('button', { name: 'New chat' }).waitFor()
  return { username, page }
}

export { expect } from '@playwright/test'
