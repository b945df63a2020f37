/**
 * The messenger as the page uses it: this device's identity, its stream
 * from the relay, its outbox, and the actions a person takes (start a chat,
 * send, read). The UI renders from IndexedDB and re-reads when `subscribe`
 * says something changed; other tabs of the same device hear of changes
 * over a BroadcastChannel.
 */
import { USERNAME_PATTERN } from '@/lib/core/limits'
import { toBase64, toBase64Url } from '@/lib/core/bytes'
import { ENVELOPE_TTL_MS, MAX_PREKEYS_PER_UPLOAD } from '@/lib/core/limits'
import type { WireEnvelope } from '@/lib/core/api'
import { deviceIdFromIdentityKey } from '@/lib/core/device-id'
import {
  createAccountIdentity,
  createDeviceKeys,
  maintainPrekeys,
  signDeviceKey,
  signDeviceList,
  type DeviceKeys,
} from '@/lib/core/crypto/keys'
import {
  generateDhKeyPair,
  randomBytes,
  type KeyPair,
} from '@/lib/core/crypto/primitives'
import { safetyNumber } from '@/lib/core/crypto/safety-number'

import {
  conversationRange,
  database,
  deleteDatabase,
  touchConversation,
  type LocalDevice,
} from './db'
import { historyParts } from './history'
import {
  approveLinkRequest,
  checkLinkRequest,
  formatLinkCode,
  linkRequest,
  newLinkCode,
  openLinkPayload,
  parseLinkCode,
} from './linking'
import { withDeviceLock } from './device-lock'
import type { Directory } from './directory'
import { deviceRelay } from './device-relay'
import { logger } from './log'
import { Outbox } from './outbox'
import { receiveEnvelopes } from './receiver'
import { isTransient, RelayClient, RelayError, type Presence } from './relay-client'
import { RelayStream, type StreamState } from './relay-stream'
import {
  keepSubscription,
  notificationSetting,
  setNotificationPreviews,
  turnOffNotifications,
  turnOnNotifications,
} from './notifications'
import { UserFacingError } from './user-facing-error'
import { encodeUpload, newDeviceKeys } from './wire-format'

const log = logger('messenger')

/** Longest message a person may send (the content schema's cap). */
export const MAX_MESSAGE_CHARS = 64 * 1024

/** How often the two sides of a link look for the other's step. */
const LINK_POLL_MS = 1_000

/** How long receipts wait, so those of a burst of messages go as one. */
const RECEIPT_DELAY_MS = 150

export { UserFacingError }

export class Messenger {
  private readonly listeners = new Set<() => void>()
  private readonly channel = new BroadcastChannel('tidings')
  private readonly relay: RelayClient
  private readonly directory: Directory
  private readonly outbox: Outbox
  private readonly stream: RelayStream
  private readonly pendingAcks = new Set<number>()
  private acking = false
  private replenishing: Promise<void> | null = null
  private pruned = false
  private version = 0
  private started = false
  /** The relay connection, for the header. */
  connection: StreamState = 'connecting'
  /** Set once this device was unlinked (by the relay's word, or here). */
  removed = false

  private constructor(readonly device: Readonly<LocalDevice>) {
    const { relay, directory } = deviceRelay(device)
    this.relay = relay
    this.directory = directory
    this.outbox = new Outbox(device, this.relay, this.directory, () => this.changed())
    this.stream = new RelayStream(this.relay, {
      envelopes: (envelopes) => this.receive(envelopes),
      synced: () => void this.afterSync(),
      prekeysLow: () => void this.replenishPrekeys(),
      revoked: () => void this.markRemoved(),
      state: (state) => {
        this.connection = state
        if (state === 'online') this.outbox.flush({ force: true })
        this.notify()
      },
    })
  }

  /** This browser's device, when it has registered; null otherwise. */
  static async load(): Promise<Messenger | null> {
    const device = await (await database()).get('device', 'self')
    if (!device) return null
    const messenger = new Messenger(device)
    messenger.removed = !!device.removedAt
    return messenger
  }

  /**
   * Creates an account with this browser as its first device: account and
   * device keys, signatures, prekeys; registers them; stores them.
   * Load it with `Messenger.load()` afterwards.
   * @throws {UserFacingError} for a bad or taken username, or no network
   */
  static async register(username: string): Promise<void> {
    const name = username.trim().toLowerCase()
    if (!USERNAME_PATTERN.test(name)) {
      throw new UserFacingError('A username is 3 to 32 letters, digits or _.')
    }

    const account = createAccountIdentity()
    const { keys, upload } = await createDeviceKeys(MAX_PREKEYS_PER_UPLOAD)
    const identityKey = keys.identity.publicKey
    const list = signDeviceList(account, 1, [identityKey])
    const deviceName = describeBrowser()

    try {
      // Limitation: the keys are stored after the relay accepts them; a
      // crash in between leaves the username taken with no device holding
      // its keys.
      await RelayClient.register({
        username: name,
        identityKey: toBase64(account.publicKey),
        deviceList: { bytes: toBase64(list.bytes), signature: toBase64(list.signature) },
        device: {
          name: deviceName,
          identityKeySignature: toBase64(signDeviceKey(account, identityKey)),
          ...newDeviceKeys(keys, upload),
        },
      })
    } catch (error) {
      if (error instanceof RelayError && error.code === 'conflict') {
        throw new UserFacingError(`The username "${name}" is taken.`)
      }
      if (error instanceof RelayError) throw new UserFacingError(error.message)
      throw new UserFacingError('The server cannot be reached. Try again when online.')
    }

    const db = await database()
    const tx = db.transaction(['device', 'keys'], 'readwrite')
    void tx.objectStore('keys').put(keys, 'self')
    void tx
      .objectStore('device')
      .put(
        newDeviceRecord({ username: name, deviceName, account, keys, history: null }),
        'self',
      )
    await tx.done
    log.info('device registered')
  }

  /**
   * Joins this browser to an existing account with a code shown on one of
   * its devices (see linking.ts), waiting up to the code's 5 minutes for
   * that device to approve. Load it with `Messenger.load()` afterwards.
   * @throws {UserFacingError} for a bad, used or expired code
   */
  static async link(text: string, signal?: AbortSignal): Promise<void> {
    let code
    try {
      code = parseLinkCode(text)
    } catch {
      throw new UserFacingError('That is not a link code.')
    }
    // Limitation: the new keys live in memory until the approval comes; a
    // reload in between leaves an approved device on the account that no
    // browser holds (remove it under "Linked devices"). Keeping the pending
    // link in IndexedDB and resuming it on load would close this.
    const { keys, upload } = await createDeviceKeys(MAX_PREKEYS_PER_UPLOAD)
    const ephemeral = await generateDhKeyPair()
    const deviceName = describeBrowser()

    try {
      await RelayClient.requestLink(
        code.linkId,
        linkRequest({ code, keys, upload, ephemeral, name: deviceName }),
      )
    } catch (error) {
      throw linkFailure(error)
    }

    let result
    for (let wait = LINK_POLL_MS; ;) {
      if (signal?.aborted) throw new UserFacingError('Linking was cancelled.')
      try {
        result = await RelayClient.linkResult(code.linkId)
        if (result.approved) break
        wait = LINK_POLL_MS
      } catch (error) {
        // A busy relay or a dropped connection is waited out; the code's
        // expiry (a 404) ends the wait.
        if (!isTransient(error)) throw linkFailure(error)
        wait = Math.min(wait * 2, 10_000)
      }
      await new Promise((resolve) => setTimeout(resolve, wait))
    }

    const { account, username, deviceListVersion } = await openLinkPayload({
      code,
      ephemeral,
      keys,
      result,
    })
    const db = await database()
    const tx = db.transaction(['device', 'keys', 'contacts'], 'readwrite')
    void tx.objectStore('keys').put(keys, 'self')
    void tx.objectStore('device').put(
      newDeviceRecord({
        username,
        deviceName,
        account,
        keys,
        history: { parts: 0, received: [] },
      }),
      'self',
    )
    // The list version our device made for us is the floor: the relay
    // cannot show this device an older list (with a removed device on it).
    void tx.objectStore('contacts').put({
      username,
      identityKey: account.publicKey,
      deviceListVersion,
      devices: [],
      identityChangedAt: null,
      checkedAt: 0,
    })
    await tx.done
    log.info('device linked to an account')
  }

  get username(): string {
    return this.device.username
  }

  /** Connects to the relay and sends what the outbox holds. */
  start(): void {
    if (this.started || this.removed) return
    this.started = true
    this.channel.onmessage = () => this.notify()
    addEventListener('online', this.onOnline)
    this.stream.start()
    this.outbox.flush()
    void keepSubscription(this.relay)
  }

  stop(): void {
    if (!this.started) return
    this.started = false
    this.stream.stop()
    this.outbox.stop()
    this.channel.close()
    removeEventListener('online', this.onOnline)
  }

  private readonly onOnline = () => this.outbox.flush({ force: true })

  /** For useSyncExternalStore: a number that changes with the data. */
  subscribe = (listener: () => void) => {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }

  getVersion = () => this.version

  private notify(): void {
    this.version++
    for (const listener of this.listeners) listener()
  }

  /** Local data changed: re-render here and in the other tabs. */
  private changed(): void {
    if (!this.started) return
    this.notify()
    this.channel.postMessage('changed')
  }

  /**
   * Opens (or creates) the chat with a contact, after checking the account
   * exists and its device list verifies.
   * @throws {UserFacingError} naming what is wrong
   */
  async startChat(username: string): Promise<string> {
    const name = username.trim().toLowerCase()
    if (!USERNAME_PATTERN.test(name)) {
      throw new UserFacingError('A username is 3 to 32 letters, digits or _.')
    }
    if (name === this.username) throw new UserFacingError('That is your own username.')
    try {
      await this.directory.account(name, true)
    } catch (error) {
      if (error instanceof RelayError && error.code === 'not-found') {
        throw new UserFacingError(`No one is called "${name}".`)
      }
      if (error instanceof RelayError) throw new UserFacingError(error.message)
      if (error instanceof Error && error.name === 'UntrustedKeyError') {
        throw new UserFacingError(`The keys of "${name}" do not verify.`)
      }
      throw new UserFacingError('The server cannot be reached. Try again when online.')
    }

    const db = await database()
    const tx = db.transaction('conversations', 'readwrite')
    if (!(await tx.store.get(name))) {
      await tx.store.put({ id: name, lastText: '', lastAt: Date.now(), unread: 0 })
    }
    await tx.done
    this.changed()
    return name
  }

  /**
   * Queues a message: it is stored as Pending together with its outbox item
   * in one transaction, then sent when the network allows. When sessions
   * with every device exist (the usual case), it is encrypted right here
   * and its new session state goes into that same transaction, so the
   * outbox only has to post it.
   */
  async sendText(conversation: string, text: string): Promise<void> {
    const body = text.trim()
    if (!body) return
    if (body.length > MAX_MESSAGE_CHARS) {
      throw new UserFacingError('The message is too long.')
    }
    const id = toBase64Url(randomBytes(16))

    await withDeviceLock(this.device.deviceId, async () => {
      const db = await database()
      const device = await db.get('device', 'self')
      if (!device) throw new Error('sendText: this device is not registered')
      // A strictly increasing clock keeps our messages in the order we wrote them.
      const sentAt = Math.max(Date.now(), device.clock + 1)
      const content = { kind: 'text', id, body, sentAt } as const
      const sealed = await this.outbox.seal(conversation, content)

      const tx = db.transaction(
        ['device', 'sessions', 'messages', 'conversations', 'outbox'],
        'readwrite',
      )
      // Reread inside the transaction: a setting saved while the message
      // was sealed must not be overwritten by the copy read before.
      const current = (await tx.objectStore('device').get('self')) ?? device
      const clock = Math.max(current.clock, sentAt)
      void tx.objectStore('device').put({ ...current, clock }, 'self')
      for (const record of sealed?.records ?? [])
        void tx.objectStore('sessions').put(record)
      void tx.objectStore('messages').put({
        conversation,
        id,
        from: this.username,
        outgoing: true,
        body,
        sentAt,
        status: 'pending',
        serverTimestamp: null,
      })
      void tx.objectStore('outbox').put({
        id,
        to: conversation,
        content,
        queuedAt: sentAt,
        attempts: 0,
        ...(sealed && { envelopes: sealed.envelopes }),
      })
      await touchConversation(
        tx.objectStore('conversations'),
        conversation,
        body,
        sentAt,
        0,
      )
      await tx.done
    })

    this.outbox.flush({ force: true })
    this.changed()
  }

  /**
   * Marks the conversation's unread messages read and queues one read
   * receipt for them (our other devices get it as a read-sync).
   */
  async markRead(conversation: string): Promise<void> {
    const db = await database()
    // A read-only look first: this runs on every change while a chat is open.
    if (!(await db.get('conversations', conversation))?.unread) return
    const tx = db.transaction(['messages', 'conversations', 'outbox'], 'readwrite')
    const chat = await tx.objectStore('conversations').get(conversation)
    if (!chat || chat.unread === 0) {
      await tx.done
      return
    }

    const ids: string[] = []
    const messages = tx.objectStore('messages')
    const shown = await messages.index('byOrder').getAll(conversationRange(conversation))
    for (const message of shown) {
      if (message.outgoing || message.status === 'read') continue
      ids.push(message.id)
      void messages.put({ ...message, status: 'read' })
    }
    void tx.objectStore('conversations').put({ ...chat, unread: 0 })
    for (let start = 0; start < ids.length; start += 500) {
      void tx.objectStore('outbox').put({
        id: `read:${conversation}:${ids[start]}`,
        to: conversation,
        content: { kind: 'read-receipt', ids: ids.slice(start, start + 500) },
        queuedAt: Date.now(),
        attempts: 0,
      })
    }
    await tx.done

    this.changed()
    this.outbox.flush({ delayMs: RECEIPT_DELAY_MS })
  }

  /** The 60-digit safety number with a contact, as 12 groups of 5. */
  async safetyNumber(conversation: string): Promise<string[]> {
    const contact =
      (await this.directory.contact(conversation)) ??
      (await this.directory.account(conversation))
    return safetyNumber(
      { identityKey: this.device.account.publicKey, username: this.username },
      { identityKey: contact.identityKey, username: conversation },
    )
  }

  /** What the chat warns about: a changed account key, a list that did not verify. */
  async warnings(conversation: string) {
    const contact = await this.directory.contact(conversation)
    return {
      identityChanged: !!contact?.identityChangedAt,
      listRejected: !!contact?.listRejectedAt,
    }
  }

  /** The person has seen the warning (and compared safety numbers, we hope). */
  async dismissIdentityChange(conversation: string): Promise<void> {
    const db = await database()
    const tx = db.transaction('contacts', 'readwrite')
    const contact = await tx.store.get(conversation)
    if (contact) await tx.store.put({ ...contact, identityChangedAt: null })
    await tx.done
    this.changed()
  }

  /** Whether this device gets notifications while Tidings is closed. */
  notificationSetting() {
    return notificationSetting()
  }

  /**
   * Turns notifications on (call from a click).
   * @throws {UserFacingError} when the browser or the relay cannot
   */
  async turnOnNotifications(): Promise<void> {
    await inWords(turnOnNotifications(this.relay))
    this.changed()
  }

  async turnOffNotifications(): Promise<void> {
    await inWords(turnOffNotifications(this.relay))
    this.changed()
  }

  /** Whether notifications show the sender and text. */
  async setNotificationPreviews(previews: boolean): Promise<void> {
    await setNotificationPreviews(previews)
    this.changed()
  }

  presence(conversation: string): Promise<Presence> {
    return this.relay.presence(conversation)
  }

  /** Our account's devices, as its signed list names them. */
  async linkedDevices() {
    return (await this.directory.account(this.username, true)).devices
  }

  /**
   * Links a new device: opens a link, reports the code to show, waits for
   * the new device's request, checks it and approves it, then sends it our
   * recent history.
   * @param report - called with the code, then with the linked device's name
   * @throws {UserFacingError} when the code expires or the request is forged
   */
  async linkNewDevice(
    report: (state: { code: string } | { linked: string }) => void,
    confirm: (deviceName: string) => Promise<boolean>,
    signal: AbortSignal,
  ): Promise<void> {
    const { linkId, expiresAt } = await this.relay.openLink()
    const code = newLinkCode(linkId)
    report({ code: formatLinkCode(code) })

    for (;;) {
      if (signal.aborted) return
      if (Date.now() > expiresAt) throw new UserFacingError('The code expired.')
      const link = await this.relay.readLink(linkId)
      if (link.request) {
        const request = link.request
        try {
          checkLinkRequest(code, request)
        } catch {
          throw new UserFacingError(
            'A device asked to link without the right code. Nothing was linked; make a new code.',
          )
        }
        // The person confirms the device they are holding is the one asking.
        // Limitation: by name only; a short fingerprint of the new identity
        // key on both screens would tell apart two devices with one name.
        if (!(await confirm(request.name))) {
          throw new UserFacingError('Linking was cancelled.')
        }
        const own = await this.directory.account(this.username, true)
        await approveLinkRequest({
          relay: this.relay,
          code,
          account: this.device.account,
          username: this.username,
          own,
          request,
        })
        // The new list is ours now; the history goes to every other device.
        await this.directory.account(this.username, true)
        await this.queueHistory()
        this.changed()
        report({ linked: request.name })
        return
      }
      await new Promise((resolve) => setTimeout(resolve, LINK_POLL_MS))
    }
  }

  /** Queues our recent history for our other devices (see history.ts). */
  private async queueHistory(): Promise<void> {
    const parts = await historyParts()
    const db = await database()
    const tx = db.transaction(['device', 'outbox'], 'readwrite')
    const device = await tx.objectStore('device').get('self')
    if (!device) return
    let clock = device.clock
    const batch = toBase64Url(randomBytes(6))
    for (const part of parts) {
      clock = Math.max(Date.now(), clock + 1)
      void tx.objectStore('outbox').put({
        id: `history:${batch}:${part.part}`,
        to: this.username,
        content: part,
        queuedAt: clock,
        attempts: 0,
      })
    }
    void tx.objectStore('device').put({ ...device, clock }, 'self')
    await tx.done
    log.info('history queued for a new device', { parts: parts.length })
    this.outbox.flush({ force: true })
  }

  /**
   * Removes a device from our account (this one included) by publishing the
   * signed device list without it.
   */
  async unlink(deviceId: string): Promise<void> {
    const own = await this.directory.account(this.username, true)
    const remaining = own.devices.filter((device) => device.deviceId !== deviceId)
    if (remaining.length === own.devices.length) return
    if (remaining.length === 0) {
      throw new UserFacingError('The last device of an account cannot be removed.')
    }
    const list = signDeviceList(
      this.device.account,
      own.deviceListVersion + 1,
      remaining.map((device) => device.identityKey),
    )
    await this.relay.unlink(deviceId, {
      bytes: toBase64(list.bytes),
      signature: toBase64(list.signature),
    })
    if (deviceId === this.device.deviceId) {
      await this.deleteLocalData()
      this.removed = true
      this.notify()
      return
    }
    await this.directory.account(this.username, true)
    this.changed()
  }

  /** History this device is receiving after being linked, for the progress bar. */
  async historyProgress() {
    return (await (await database()).get('device', 'self'))?.history ?? null
  }

  /** This device is no longer on the account: stop, and delete its data. */
  /**
   * The relay says this device was unlinked. Its data is kept (the relay's
   * word alone must not be able to erase a device); the page says so and
   * offers to delete it.
   */
  private async markRemoved(): Promise<void> {
    if (this.removed) return
    this.removed = true
    log.warn('the relay says this device was unlinked')
    this.stream.stop()
    this.outbox.stop()
    const db = await database()
    const tx = db.transaction('device', 'readwrite')
    const device = await tx.store.get('self')
    if (device) await tx.store.put({ ...device, removedAt: Date.now() }, 'self')
    await tx.done
    this.notify()
  }

  /** Deletes everything this browser holds for the device (after unlinking). */
  async deleteLocalData(): Promise<void> {
    this.stop()
    await deleteDatabase()
  }

  /** Stores, acknowledges, then shows a batch from the stream. */
  private async receive(envelopes: WireEnvelope[]): Promise<void> {
    const received = await receiveEnvelopes(this.device, this.directory, envelopes)
    for (const seq of received.seqs) this.pendingAcks.add(seq)
    this.acknowledge()
    this.changed()
    // Delivery receipts wait a moment, so a burst of messages gets one.
    if (received.messages.length > 0) this.outbox.flush({ delayMs: RECEIPT_DELAY_MS })
  }

  /** Acknowledges stored envelopes; what fails is retried with the next batch. */
  private acknowledge(): void {
    if (this.acking || this.pendingAcks.size === 0) return
    this.acking = true
    const seqs = [...this.pendingAcks].slice(0, 1000)
    void this.relay
      .ack(seqs)
      .then(() => {
        for (const seq of seqs) this.pendingAcks.delete(seq)
      })
      .catch((error: unknown) =>
        log.info('ack postponed', { error: (error as Error).name }),
      )
      .finally(() => {
        this.acking = false
        if (this.pendingAcks.size > 0 && this.connection === 'online') {
          setTimeout(() => this.acknowledge(), 1_000)
        }
      })
  }

  /** After the backlog: housekeeping that needs the relay. */
  private async afterSync(): Promise<void> {
    this.acknowledge()
    this.outbox.flush()
    await this.replenishPrekeys()
    // Once per page: the scan covers every stored sequence number.
    if (!this.pruned) {
      this.pruned = true
      await pruneProcessed()
    }
  }

  /**
   * Rotates the signed prekeys when due and tops up one-time prekeys. The
   * new secrets are stored before their public halves are published, so a
   * crash never leaves the relay handing out keys we do not hold.
   */
  private replenishPrekeys(): Promise<void> {
    this.replenishing ??= this.keepPrekeys().finally(() => (this.replenishing = null))
    return this.replenishing
  }

  private async keepPrekeys(): Promise<void> {
    try {
      // Under the lock, so a second tab reads the stock after this one's upload.
      await withDeviceLock(this.device.deviceId, async () => {
        const stock = await this.relay.keyStock()
        const db = await database()
        const current = await db.get('keys', 'self')
        if (!current) return
        const { keys, upload } = await maintainPrekeys(current, stock)
        if (!upload) return

        await db.put('keys', keys, 'self')
        // Limitation: when this upload fails, a rotated signed prekey stays
        // unpublished until the next rotation (the relay keeps handing out
        // the previous one, which still works for 30 days); one-time keys
        // are topped up again on the next sync.
        await this.relay.uploadKeys(encodeUpload(upload))
        log.info('prekeys published', {
          oneTime: upload.oneTimePrekeys?.length ?? 0,
          rotated: !!upload.signedPrekey,
        })
      })
    } catch (error) {
      log.warn('prekey upkeep postponed', { error: (error as Error).name })
    }
  }
}

/** The record of this browser's new device, registered or linked. */
function newDeviceRecord(fields: {
  username: string
  deviceName: string
  account: KeyPair
  keys: DeviceKeys
  history: LocalDevice['history']
}): LocalDevice {
  return {
    username: fields.username,
    deviceId: deviceIdFromIdentityKey(fields.keys.identity.publicKey),
    deviceName: fields.deviceName,
    account: fields.account,
    identity: fields.keys.identity,
    credential: null,
    clock: Date.now(),
    createdAt: Date.now(),
    history: fields.history,
  }
}

/** Passes a UserFacingError on; turns relay and network failures into one. */
async function inWords<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    if (error instanceof UserFacingError) throw error
    if (error instanceof RelayError) throw new UserFacingError(error.message)
    throw new UserFacingError('The server cannot be reached. Try again when online.')
  }
}

/** Turns a failed link step into words for the person. */
function linkFailure(error: unknown): UserFacingError {
  if (error instanceof RelayError) {
    if (error.code === 'not-found')
      return new UserFacingError('That code is unknown or expired.')
    if (error.code === 'conflict')
      return new UserFacingError('That code was used already.')
    if (error.code === 'forbidden') return new UserFacingError(error.message)
    return new UserFacingError(error.message)
  }
  return new UserFacingError('The server cannot be reached. Try again when online.')
}

/** Forgets processed sequence numbers older than any envelope the relay keeps. */
async function pruneProcessed(): Promise<void> {
  const db = await database()
  const tx = db.transaction('processed', 'readwrite')
  const cutoff = Date.now() - ENVELOPE_TTL_MS
  for (
    let cursor = await tx.store.openCursor();
    cursor;
    cursor = await cursor.continue()
  ) {
    if (cursor.value.at < cutoff) await cursor.delete()
  }
  await tx.done
}

/** A device name from the browser, e.g. "Chrome on Linux". */
function describeBrowser(): string {
  const agent = navigator.userAgent
  const browser = /Edg\//.test(agent)
    ? 'Edge'
    : /Firefox\//.test(agent)
      ? 'Firefox'
      : /Chrome\//.test(agent)
        ? 'Chrome'
        : /Safari\//.test(agent)
          ? 'Safari'
          : 'Browser'
  const system = /Android/.test(agent)
    ? 'Android'
    : /iPhone|iPad/.test(agent)
      ? 'iOS'
      : /Mac OS/.test(agent)
        ? 'macOS'
        : /Windows/.test(agent)
          ? 'Windows'
          : /Linux/.test(agent)
            ? 'Linux'
            : 'unknown system'
  return `${browser} on ${system}`
}
