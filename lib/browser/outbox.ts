/**
 * Sending. Everything that goes out (messages, receipts) is first written to
 * the outbox in IndexedDB, so it survives a reload, a crash or a dead
 * network, and is sent from there in order, one context at a time.
 *
 * Each item is encrypted for every device of the recipient and every other
 * device of ours, on the devices' sessions (started from prekey bundles when
 * new). The advanced sessions are stored before the envelopes are posted:
 * were they stored after, a crash in between would reuse message keys. When
 * the relay answers that the device lists changed (409), the lists are
 * fetched and verified again and the item is encrypted afresh.
 */
import type { SendReceipt } from '@/lib/core/api'
import { toBase64 } from '@/lib/core/bytes'
import { encodeContent, type Content } from '@/lib/core/content'
import { UntrustedKeyError } from '@/lib/core/crypto/errors'
import { equalBytes } from '@/lib/core/crypto/primitives'
import { encrypt, startSession, type SessionRecord } from '@/lib/core/crypto/session'

import { database, type MessageRecord, type OutboxItem } from './db'
import { withDeviceLock, withOutboxLock } from './device-lock'
import type { Directory } from './directory'
import { logger } from './log'
import { STATUS_RANK } from './receiver'
import { isTransient, RelayError, type RelayClient } from './relay-client'
import type { VerifiedAccount } from './trust'
import { decodeBundle } from './wire-format'

const log = logger('outbox')

const FIRST_RETRY_MS = 1_000
const MAX_RETRY_MS = 60_000
/** Relay failures (5xx) on one item before it is marked failed. */
const MAX_SERVER_FAILURES = 8
/** Times the device lists may change under one send before giving up for now. */
const MAX_MISMATCHES = 3
/** Receipt ids per content (the content schema's cap). */
const MAX_RECEIPT_IDS = 500

interface Self {
  username: string
  deviceId: string
}

type Recipient = { deviceId: string; owner: 'contact' | 'self' }

/** Sends the outbox; `flush()` may be called any time, from anywhere. */
export class Outbox {
  private running = false
  private again = false
  private stopped = false
  private failures = 0
  /** No attempt before this time (the backoff after a failure), unless forced. */
  private notBefore = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private timerAt = Infinity
  /** Relay failures (5xx) per item; network failures are retried for ever. */
  private readonly serverFailures = new Map<string, number>()

  constructor(
    private readonly self: Self,
    private readonly relay: RelayClient,
    private readonly directory: Directory,
    private readonly changed: () => void,
  ) {}

  /**
   * Sends what is queued, in order: now or after `delayMs`, and not before
   * the backoff after a failure ends unless `force` (the network is back,
   * or the person just pressed Send).
   */
  flush(options: { delayMs?: number; force?: boolean } = {}): void {
    if (this.stopped) return
    if (options.force) {
      this.notBefore = 0
      this.failures = 0
    }
    const wait = Math.max(options.delayMs ?? 0, this.notBefore - Date.now())
    if (wait > 0) {
      this.schedule(wait)
      return
    }
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    void withOutboxLock(this.self.deviceId, () => this.drain())
      .catch((error: unknown) => {
        log.error('outbox stopped', { error: (error as Error).name })
        this.backOff()
      })
      .finally(() => {
        this.running = false
        if (this.again) {
          this.again = false
          this.flush()
        }
      })
  }

  /**
   * Sends what is queued now and resolves when done, for a service worker
   * whose life ends with its event: no timers, no retries after this.
   * What could not be sent stays queued for the page.
   */
  async sendQueued(): Promise<void> {
    this.stopped = true
    await withOutboxLock(this.self.deviceId, () => this.drain()).catch((error: unknown) =>
      log.info('send postponed', { error: (error as Error).name }),
    )
    clearTimeout(this.timer)
  }

  /** Stops for good (the page is going away, or this Messenger is replaced). */
  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  /** Runs flush() in `ms`, keeping whichever timer fires first. */
  private schedule(ms: number): void {
    const at = Date.now() + ms
    if (this.timer !== undefined && this.timerAt <= at) return
    clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      this.flush()
    }, ms)
  }

  /** Waits longer after each failure in a row: 1 s, 2 s, 4 s … 60 s. */
  private backOff(atLeastMs = 0): void {
    this.failures++
    const backoff = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (this.failures - 1))
    this.notBefore = Date.now() + Math.max(atLeastMs, backoff)
    this.schedule(this.notBefore - Date.now())
  }

  /** Sends items, oldest first, until the outbox is empty or the network fails. */
  private async drain(): Promise<void> {
    for (;;) {
      this.again = false
      const db = await database()
      const queued = await db.getAllFromIndex('outbox', 'byQueuedAt')
      const batch = nextBatch(queued)
      if (!batch) return

      try {
        const receipt = await this.deliver(batch)
        await this.settle(batch.items, receipt)
        this.failures = 0
      } catch (error) {
        if (isTransient(error) && !this.givenUp(batch, error)) {
          log.info('send postponed', { error: (error as Error).name })
          this.backOff(retryAfter(error))
          return
        }
        // The relay or the keys refuse this item for good: show it failed.
        log.warn('send failed', {
          error: error instanceof RelayError ? error.code : (error as Error).name,
        })
        await this.fail(batch.items)
      }
      this.changed()
    }
  }

  /**
   * Whether to stop retrying an item the relay keeps failing on (5xx): it
   * would otherwise hold up everything queued after it.
   */
  private givenUp(batch: Batch, error: unknown): boolean {
    if (!(error instanceof RelayError) || error.status < 500) return false
    const id = batch.items[0]?.id ?? ''
    const count = (this.serverFailures.get(id) ?? 0) + 1
    this.serverFailures.set(id, count)
    return count >= MAX_SERVER_FAILURES
  }

  /**
   * Encrypts content for every device it goes to and posts it; envelopes
   * sealed when the item was queued are posted as they are.
   * @returns the relay's receipt, or null when there was no device to send to
   */
  private async deliver(batch: Batch): Promise<SendReceipt | null> {
    const { to, content } = batch
    // Only a message wakes a closed app (Web Push); receipts and syncs wait.
    const urgent = content.kind === 'text'
    let refresh = false
    if (batch.envelopes) {
      try {
        return await this.relay.send({ to, envelopes: batch.envelopes, urgent })
      } catch (error) {
        if (!(error instanceof RelayError) || !error.mismatch) throw error
        refresh = true
      }
    }

    for (let attempt = 0; ; attempt++) {
      const recipients = await this.recipients(to, refresh || attempt > 0)
      if (recipients.length === 0) return null

      const envelopes = await withDeviceLock(this.self.deviceId, async () => {
        const sealed = await this.encryptFor(to, content, recipients, true)
        const db = await database()
        const tx = db.transaction('sessions', 'readwrite')
        for (const record of sealed.records) void tx.store.put(record)
        await tx.done
        return sealed.envelopes
      })
      try {
        return await this.relay.send({ to, envelopes, urgent })
      } catch (error) {
        if (!(error instanceof RelayError) || !error.mismatch) throw error
        if (attempt + 1 >= MAX_MISMATCHES) throw error
        log.info('device lists changed: fetching them again', {
          missing: error.mismatch.missingDevices.length,
          extra: error.mismatch.extraDevices.length,
        })
      }
    }
  }

  /** Every verified device of the recipient, and our other devices. */
  private async recipients(to: string, refresh: boolean): Promise<Recipient[]> {
    const own = await this.directory.account(this.self.username, refresh)
    const contact =
      to === this.self.username ? null : await this.directory.account(to, refresh)
    return this.fanOut(own, contact)
  }

  /** The same from the page's cache only; null when something is not cached. */
  private cachedRecipients(to: string): Recipient[] | null {
    const own = this.directory.cached(this.self.username)
    const contact = to === this.self.username ? null : this.directory.cached(to)
    if (!own || contact === undefined) return null
    return this.fanOut(own, contact)
  }

  private fanOut(own: VerifiedAccount, contact: VerifiedAccount | null): Recipient[] {
    const siblings = own.devices
      .filter((device) => device.deviceId !== this.self.deviceId)
      .map((device) => ({ deviceId: device.deviceId, owner: 'self' as const }))
    const theirs = (contact?.devices ?? []).map((device) => ({
      deviceId: device.deviceId,
      owner: 'contact' as const,
    }))
    return [...theirs, ...siblings]
  }

  /**
   * Encrypts content for the devices it goes to when everything needed is
   * at hand: device lists verified recently and a session with each device.
   * Reads no network. The caller holds the device lock and stores the
   * records with the item.
   * @returns the envelopes and the advanced sessions, or null
   */
  async seal(to: string, content: Content) {
    const recipients = this.cachedRecipients(to)
    if (!recipients || recipients.length === 0) return null
    try {
      return await this.encryptFor(to, content, recipients, false)
    } catch (error) {
      if (error instanceof MissingSessionError) return null
      throw error
    }
  }

  /**
   * Encrypts for each recipient (under the lock), starting sessions from
   * prekey bundles where `startMissing` allows.
   * @returns envelopes for the relay and the advanced session records
   * @throws {MissingSessionError} when a session is missing and may not be started
   */
  private async encryptFor(
    to: string,
    content: Content,
    recipients: Recipient[],
    startMissing: boolean,
  ) {
    const db = await database()
    const device = await db.get('device', 'self')
    if (!device) throw new Error('send: this device is not registered')

    const records = new Map<string, SessionRecord>()
    for (const { deviceId } of recipients) {
      const record = await db.get('sessions', deviceId)
      if (record?.active) records.set(deviceId, record)
    }
    if (records.size < recipients.length) {
      if (!startMissing) throw new MissingSessionError('seal: a session is missing')
      await this.startSessions(to, recipients, records, device.identity)
    }

    const envelopes: { deviceId: string; content: string }[] = []
    for (const recipient of recipients) {
      const record = records.get(recipient.deviceId)
      if (!record) throw new UntrustedKeyError('send: no session with a device')
      const plaintext = encodeContent(
        recipient.owner === 'self' ? copyForOwnDevice(to, content) : content,
      )
      const sealed = encrypt(record, plaintext)
      records.set(recipient.deviceId, sealed.record)
      envelopes.push({ deviceId: recipient.deviceId, content: toBase64(sealed.message) })
    }
    return { envelopes, records: [...records.values()] }
  }

  /** Starts sessions from prekey bundles for the devices that have none. */
  private async startSessions(
    to: string,
    recipients: Recipient[],
    records: Map<string, SessionRecord>,
    identity: Parameters<typeof startSession>[1],
  ): Promise<void> {
    const db = await database()
    const missing = recipients.filter((recipient) => !records.has(recipient.deviceId))
    for (const owner of ['contact', 'self'] as const) {
      const ids = missing.filter((r) => r.owner === owner).map((r) => r.deviceId)
      if (ids.length === 0) continue
      const username = owner === 'self' ? this.self.username : to
      const account = await this.directory.account(username)
      const { bundles } = await this.relay.bundles(username, ids)
      for (const bundle of bundles) {
        // Only a device whose key the account signed gets a session.
        const known = account.devices.find(
          (device) => device.deviceId === bundle.deviceId,
        )
        if (!known) continue
        const prekeys = decodeBundle(bundle)
        if (!equalBytes(prekeys.identityKey, known.identityKey)) continue
        const existing = (await db.get('sessions', bundle.deviceId)) ?? null
        records.set(
          bundle.deviceId,
          await startSession(existing, identity, bundle.deviceId, prekeys),
        )
      }
    }
  }

  /** Removes sent items and moves their messages to "Sent". */
  private settle(items: OutboxItem[], receipt: SendReceipt | null): Promise<void> {
    return finish(items, (message) =>
      STATUS_RANK[message.status] >= STATUS_RANK.sent
        ? null
        : {
            ...message,
            status: 'sent',
            serverTimestamp: receipt?.serverTimestamp ?? Date.now(),
          },
    )
  }

  /** Removes items the relay refused and marks their messages "Failed". */
  private fail(items: OutboxItem[]): Promise<void> {
    return finish(items, (message) =>
      message.status === 'pending' ? { ...message, status: 'failed' } : null,
    )
  }
}

/**
 * Takes items out of the outbox and updates the messages they carried, in
 * one transaction; `update` returns null to leave a message as it is.
 */
async function finish(
  items: OutboxItem[],
  update: (message: MessageRecord) => MessageRecord | null,
): Promise<void> {
  const db = await database()
  const tx = db.transaction(['outbox', 'messages'], 'readwrite')
  for (const item of items) {
    void tx.objectStore('outbox').delete(item.id)
    if (item.content.kind !== 'text') continue
    const message = await tx.objectStore('messages').get([item.to, item.content.id])
    const updated = message && update(message)
    if (updated) void tx.objectStore('messages').put(updated)
  }
  await tx.done
}

/** What one send carries: one item, or several receipts merged. */
interface Batch {
  to: string
  content: Content
  items: OutboxItem[]
  envelopes?: OutboxItem['envelopes']
}

/** No session with a device, and starting one needs the network. */
class MissingSessionError extends Error {
  override name = 'MissingSessionError'
}

/**
 * The next thing to send: the oldest item; receipts of one kind to one
 * contact are merged into one content, however many are queued.
 */
function nextBatch(queued: OutboxItem[]): Batch | null {
  const first = queued[0]
  if (!first) return null
  const kind = first.content.kind
  if (kind !== 'delivery-receipt' && kind !== 'read-receipt') {
    return {
      to: first.to,
      content: first.content,
      items: [first],
      ...(first.envelopes && { envelopes: first.envelopes }),
    }
  }

  const items: OutboxItem[] = []
  const ids: string[] = []
  for (const item of queued) {
    if (item.to !== first.to || item.content.kind !== kind) continue
    if (ids.length + item.content.ids.length > MAX_RECEIPT_IDS) break
    items.push(item)
    ids.push(...item.content.ids)
  }
  return { to: first.to, content: { kind, ids } satisfies Content, items }
}

/**
 * What our other devices get instead: a message we sent becomes a sent-sync
 * naming the chat; a read receipt becomes a read-sync, so they clear their
 * unread count too. Delivery receipts go as they are (our devices ignore
 * them; the relay wants every device in each send).
 */
function copyForOwnDevice(to: string, content: Content): Content {
  switch (content.kind) {
    case 'text':
      return {
        kind: 'sent-sync',
        to,
        message: { id: content.id, body: content.body, sentAt: content.sentAt },
      }
    case 'read-receipt':
      return { kind: 'read-sync', conversation: to, ids: content.ids }
    default:
      return content
  }
}

function retryAfter(error: unknown): number {
  return error instanceof RelayError && error.status === 429 ? 5_000 : 0
}
