/**
 * Nothing lost, nothing shown twice, under faults: two accounts with two
 * devices each (Alice: a real browser and a Node device; Bob: two Node
 * devices, all on the same protocol library) send at least 1,000 messages
 * while the server is killed with SIGKILL and restarted at random moments,
 * the Node devices drop off for a while at random, and the browser reloads
 * and loses its network now and then.
 * At the end every accepted message is on every device it belongs to,
 * exactly once and in order, and every delivery receipt has arrived.
 *
 * FAULT_MESSAGES sets the number of messages (default 1,000) and
 * FAULT_KILLS the number of kills (default 6):
 *   FAULT_MESSAGES=10000 FAULT_KILLS=30 npx playwright test faults
 */
import type { Page } from '@playwright/test'

import { ProtocolDevice } from '../support/protocol-device'
import { openChat, showLinkCode, startChat } from './chat'
import { expect, test } from './fixtures'

const MESSAGES = Number(process.env.FAULT_MESSAGES ?? 1_000)
const KILLS = Number(process.env.FAULT_KILLS ?? 6)
const BROWSER_MESSAGES = Math.max(20, Math.round(MESSAGES * 0.03))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const between = (min: number, max: number) => min + Math.random() * (max - min)

interface BrowserMessage {
  id: string
  body: string
  outgoing: boolean
  status: string
  sentAt: number
}

/** The messages the browser's device stored for one conversation, in display order. */
function storedMessages(page: Page, conversation: string): Promise<BrowserMessage[]> {
  return page.evaluate(async (chat) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open('tidings')
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(new Error('open failed'))
    })
    const rows = await new Promise<BrowserMessage[]>((resolve, reject) => {
      const range = IDBKeyRange.bound([chat, -Infinity], [chat, Infinity, []])
      const request = db
        .transaction('messages')
        .objectStore('messages')
        .index('byOrder')
        .getAll(range)
      request.onsuccess = () => resolve(request.result as BrowserMessage[])
      request.onerror = () => reject(new Error('read failed'))
    })
    db.close()
    return rows
  }, conversation)
}

test('faults: SIGKILLs, drop-outs and reloads lose nothing and show nothing twice', async ({
  person,
  server,
}) => {
  test.setTimeout(Math.max(300_000, MESSAGES * 400))

  // Alice: the browser, and a Node device linked to it with the code it shows.
  const alice = await person('alice')
  const browserLog: string[] = []
  alice.context.on('console', (entry) =>
    browserLog.push(`${new Date().toISOString().slice(11, 23)} ${entry.text()}`),
  )
  const code = await showLinkCode(alice.page)
  const joining = ProtocolDevice.link(server.url, code)
  await alice.page.getByRole('button', { name: 'Link it' }).click({ timeout: 20_000 })
  const alice2 = await joining
  await alice.page.getByRole('button', { name: 'Done' }).click()

  // Bob: a Node device, and a second one linked to it.
  const bob1 = await ProtocolDevice.register(
    server.url,
    `bob_${Math.random().toString(36).slice(2, 8)}`,
  )
  const bobLink = await bob1.openLinkFor()
  const [bob2] = await Promise.all([
    ProtocolDevice.link(server.url, bobLink.code),
    bobLink.approve(),
  ])
  const nodes = [alice2, bob1, bob2]
  for (const device of nodes) {
    await device.know(bob1.username)
    device.start({ dropOutChance: 0.03 })
  }
  const aliceDevices = await alice2.know(alice.username)
  const bobDevices = [bob1.deviceId, bob2.deviceId]
  const browserId = aliceDevices.find((id) => id !== alice2.deviceId) ?? ''
  expect(aliceDevices).toHaveLength(2)
  await startChat(alice.page, bob1.username)

  // Faults: kill and restart the server at random moments, for as long as
  // messages are being sent and at least FAULT_KILLS times.
  let up = true
  let restarts = 0
  let reloads = 0
  let offlines = 0
  let sendsDone = false
  const killer = (async () => {
    while (restarts < KILLS || !sendsDone) {
      await sleep(between(500, 4_000))
      if (restarts >= KILLS && sendsDone) return
      up = false
      await server.kill('SIGKILL')
      await sleep(between(50, 800))
      await server.restart()
      restarts++
      up = true
    }
  })()

  // Senders: each Node device in order, one message at a time.
  const perNode = Math.ceil((MESSAGES - BROWSER_MESSAGES) / nodes.length)
  const nodeSends = nodes.map(async (device, index) => {
    const to = device.username === alice.username ? bob1.username : alice.username
    for (let n = 1; n <= perNode; n++) {
      await device.sendText(to, `node ${index} says ${n} of ${perNode}`)
    }
  })

  // The browser: types messages and now and then reloads (while the server is up).
  const browserTexts: string[] = []
  // At least one reload, whatever the dice say: from this message on, the
  // first moment the server is up.
  const reloadBy = 1 + Math.floor(Math.random() * (BROWSER_MESSAGES - 1))
  const reload = async () => {
    await alice.page.reload()
    await openChat(alice.page, bob1.username)
    reloads++
  }
  const browserSends = (async () => {
    for (let n = 1; n <= BROWSER_MESSAGES; n++) {
      const text = `browser says ${n} of ${BROWSER_MESSAGES}`
      const box = alice.page.getByRole('textbox', { name: 'Message' })
      await box.fill(text)
      await alice.page.getByRole('button', { name: 'Send' }).click()
      // Stored on the device (the box empties then): from here on it must arrive.
      await expect(box).toHaveValue('')
      browserTexts.push(text)
      await sleep(between(50, 400))
      const roll = Math.random()
      if ((roll < 0.15 || (reloads === 0 && n >= reloadBy)) && up) {
        await reload()
      } else if (roll < 0.3) {
        // The network goes away for a moment, as on a train.
        await alice.context.setOffline(true)
        await sleep(between(200, 1_500))
        await alice.context.setOffline(false)
        offlines++
      }
    }
    while (reloads === 0) {
      if (up) await reload()
      else await sleep(100)
    }
  })()

  await Promise.all([...nodeSends, browserSends])
  sendsDone = true
  await killer
  const nodeById = new Map(nodes.map((device) => [device.deviceId, device]))

  const check = async () => {
    let lost = 0
    let duplicated = 0
    let receiptsMissing = 0
    let outOfOrder = 0
    const browserRows = await storedMessages(alice.page, bob1.username)
    const browserBodies = new Map<string, number>()
    for (const row of browserRows) {
      browserBodies.set(row.body, (browserBodies.get(row.body) ?? 0) + 1)
    }

    /** How many times a device shows a message with this text. */
    const shownOn = (deviceId: string, body: string) =>
      deviceId === browserId
        ? (browserBodies.get(body) ?? 0)
        : [...(nodeById.get(deviceId)?.shown.values() ?? [])].filter(
            (shown) => shown.body === body,
          ).length
    const tally = (receivers: string[], body: string) => {
      for (const receiver of receivers) {
        const count = shownOn(receiver, body)
        if (count === 0) lost++
        if (count > 1) duplicated += count - 1
      }
    }

    // The Node devices' messages: on every device of both accounts but the sender.
    for (const sender of nodes) {
      const toAlice = sender.username === bob1.username
      const recipients = toAlice ? aliceDevices : bobDevices
      const receivers = [...aliceDevices, ...bobDevices].filter(
        (id) => id !== sender.deviceId,
      )
      for (const message of sender.sent.filter((each) => each.accepted)) {
        tally(receivers, message.body)
        receiptsMissing += recipients.filter((id) => !message.deliveredTo.has(id)).length
      }
    }

    // The browser's messages, on Bob's devices and Alice's other one; its
    // ticks say whether the delivery receipts came.
    for (const text of browserTexts) {
      tally([...bobDevices, alice2.deviceId], text)
      const row = browserRows.find((each) => each.body === text)
      if (!row || !['delivered', 'read'].includes(row.status)) receiptsMissing++
    }

    // Order: each receiver shows each sender's messages in the order sent.
    const senders = [
      ...nodes.map((device) => device.sent.map((m) => m.body)),
      browserTexts,
    ]
    const views = [
      browserRows.map((row) => row.body),
      ...nodes.map((device) => [...device.shown.values()].map((shown) => shown.body)),
    ]
    for (const sent of senders) {
      const rank = new Map(sent.map((body, index) => [body, index]))
      for (const view of views) {
        const seen = view.filter((body) => rank.has(body)).map((body) => rank.get(body)!)
        for (let i = 1; i < seen.length; i++) if (seen[i] < seen[i - 1]) outOfOrder++
      }
    }
    return { lost, duplicated, receiptsMissing, outOfOrder, browserRows }
  }

  // Let every device catch up (the browser backs off up to 30 s after restarts).
  let result = await check()
  const deadline = Date.now() + 120_000
  while ((result.lost > 0 || result.receiptsMissing > 0) && Date.now() < deadline) {
    await sleep(1_000)
    result = await check()
  }
  for (const device of nodes) device.stop()

  const sent =
    nodes.reduce((sum, device) => sum + device.sent.length, 0) + browserTexts.length
  const accepted =
    nodes.reduce((sum, device) => sum + device.sent.filter((m) => m.accepted).length, 0) +
    result.browserRows.filter(
      (row) =>
        browserTexts.includes(row.body) && !['pending', 'failed'].includes(row.status),
    ).length
  const copies = nodes.reduce((sum, device) => sum + device.copiesDropped, 0)
  console.log(
    [
      'faults:',
      '| sent | accepted | restarts | lost | duplicated | receipts missing | out of order |',
      `| ${sent} | ${accepted} | ${restarts} | ${result.lost} | ${result.duplicated} | ` +
        `${result.receiptsMissing} | ${result.outOfOrder} |`,
      `(browser reloads: ${reloads}, times offline: ${offlines}; ` +
        `copies that arrived again and were dropped ` +
        `by the Node devices: ${copies})`,
    ].join('\n'),
  )

  const stuck = result.browserRows.filter(
    (row) =>
      browserTexts.includes(row.body) && !['delivered', 'read'].includes(row.status),
  )
  if (stuck.length > 0) {
    console.log(`browser messages not delivered: ${JSON.stringify(stuck)}`)
    console.log(browserLog.slice(-60).join('\n'))
  }
  expect(sent).toBeGreaterThanOrEqual(MESSAGES)
  expect(restarts).toBeGreaterThanOrEqual(Math.min(KILLS, 5))
  expect(reloads).toBeGreaterThan(0)
  expect(accepted).toBe(sent)
  expect(result.lost).toBe(0)
  expect(result.duplicated).toBe(0)
  expect(result.receiptsMissing).toBe(0)
  expect(result.outOfOrder).toBe(0)
})
