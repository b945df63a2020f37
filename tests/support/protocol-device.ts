/**
 * A messenger device in Node, for fault runs: the same protocol as the
 * browser client (lib/core's PQXDH, Double Ratchet and content; the
 * browser's relay client, trust checks and linking), with its state in
 * memory instead of IndexedDB. It sends like the outbox (in order, one at a
 * time, the same sealed bytes again after a failure whose outcome is not
 * known, sealed afresh after a 409) and receives like the receiver (by
 * queue position, dropping copies by sequence number and message id,
 * acknowledging after storing), and keeps a record of what it showed.
 */
import type { WireEnvelope } from '../../lib/core/api'
import { fromBase64, toBase64, toBase64Url } from '../../lib/core/bytes'
import { decodeContent, encodeContent, type Content } from '../../lib/core/content'
import { DuplicateMessageError } from '../../lib/core/crypto/errors'
import {
  createAccountIdentity,
  createDeviceKeys,
  signDeviceKey,
  signDeviceList,
  type DeviceKeys,
} from '../../lib/core/crypto/keys'
import { deleteConsumed } from '../../lib/core/crypto/pqxdh'
import {
  equalBytes,
  generateDhKeyPair,
  randomBytes,
  type KeyPair,
} from '../../lib/core/crypto/primitives'
import {
  decrypt,
  encrypt,
  startSession,
  type SessionRecord,
} from '../../lib/core/crypto/session'
import { deviceIdFromIdentityKey } from '../../lib/core/device-id'
import {
  approveLinkRequest,
  formatLinkCode,
  linkRequest,
  newLinkCode,
  openLinkPayload,
  parseLinkCode,
} from '../../lib/browser/linking'
import { isTransient, RelayClient, RelayError } from '../../lib/browser/relay-client'
import { verifyAccount, type VerifiedAccount } from '../../lib/browser/trust'
import { decodeBundle, newDeviceKeys } from '../../lib/browser/wire-format'

/** A message as a device shows it. */
export interface Shown {
  id: string
  body: string
  /** The account it came from (ours for our own messages). */
  from: string
  /** How many times it was about to be shown; above 1 is a duplicate. */
  times: number
}

/** A message this device sent, and who confirmed having it. */
export interface Sent {
  id: string
  to: string
  body: string
  accepted: boolean
  /** Devices of the recipient that sent a delivery receipt for it. */
  deliveredTo: Set<string>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export class ProtocolDevice {
  readonly deviceId: string
  private readonly relay: RelayClient
  private readonly sessions = new Map<string, SessionRecord>()
  private readonly accounts = new Map<string, VerifiedAccount>()
  private readonly processed = new Set<number>()
  private readonly receipts = new Map<string, Set<string>>()
  /** Serialises everything that reads and writes a session. */
  private lock: Promise<unknown> = Promise.resolve()
  private clock = Date.now()
  private running = false
  private pausedUntil = 0

  /** Shown messages by id, in the order they were first shown. */
  readonly shown = new Map<string, Shown>()
  readonly sent: Sent[] = []
  /** Copies that arrived again (dropped by sequence number or message id). */
  copiesDropped = 0

  private constructor(
    readonly baseUrl: string,
    readonly username: string,
    private account: KeyPair,
    private keys: DeviceKeys,
  ) {
    this.deviceId = deviceIdFromIdentityKey(keys.identity.publicKey)
    this.relay = new RelayClient(
      {
        deviceId: this.deviceId,
        identitySecretKey: keys.identity.secretKey,
        credential: null,
        saveCredential: () => Promise.resolve(),
      },
      baseUrl,
    )
  }

  /** Registers a new account with this as its first device. */
  static async register(baseUrl: string, username: string): Promise<ProtocolDevice> {
    const account = createAccountIdentity()
    const { keys, upload } = await createDeviceKeys(30)
    const identityKey = keys.identity.publicKey
    const list = signDeviceList(account, 1, [identityKey])
    await RelayClient.register(
      {
        username,
        identityKey: toBase64(account.publicKey),
        deviceList: { bytes: toBase64(list.bytes), signature: toBase64(list.signature) },
        device: {
          name: 'Node device',
          identityKeySignature: toBase64(signDeviceKey(account, identityKey)),
          ...newDeviceKeys(keys, upload),
        },
      },
      baseUrl,
    )
    return new ProtocolDevice(baseUrl, username, account, keys)
  }

  /** Joins an account with a link code shown on one of its devices. */
  static async link(baseUrl: string, codeText: string): Promise<ProtocolDevice> {
    const code = parseLinkCode(codeText)
    const { keys, upload } = await createDeviceKeys(30)
    const ephemeral = await generateDhKeyPair()
    await RelayClient.requestLink(
      code.linkId,
      linkRequest({ code, keys, upload, ephemeral, name: 'Node device' }),
      baseUrl,
    )
    for (;;) {
      const result = await RelayClient.linkResult(code.linkId, baseUrl)
      if (result.approved) {
        const opened = await openLinkPayload({ code, ephemeral, keys, result })
        return new ProtocolDevice(baseUrl, opened.username, opened.account, keys)
      }
      await sleep(200)
    }
  }

  /**
   * Opens a link for a new device of this account: the code to give it,
   * and a function that waits for its request and approves it.
   */
  async openLinkFor(): Promise<{ code: string; approve: () => Promise<void> }> {
    const { linkId } = await this.relay.openLink()
    const code = newLinkCode(linkId)
    const approve = async () => {
      for (;;) {
        const link = await this.relay.readLink(linkId)
        if (link.request) {
          const own = verifyAccount(await this.relay.account(this.username))
          await approveLinkRequest({
            relay: this.relay,
            code,
            account: this.account,
            username: this.username,
            own,
            request: link.request,
          })
          return
        }
        await sleep(200)
      }
    }
    return { code: formatLinkCode(code), approve }
  }

  /** Receives in the background until `stop()`, now and then dropping off for a while. */
  start(options: { dropOutChance: number } = { dropOutChance: 0 }): void {
    this.running = true
    void (async () => {
      while (this.running) {
        if (Date.now() >= this.pausedUntil) {
          if (Math.random() < options.dropOutChance) {
            this.pausedUntil = Date.now() + 200 + Math.random() * 1_500
          } else {
            await this.receive().catch(() => sleep(100))
          }
        }
        await sleep(40)
      }
    })()
  }

  stop(): void {
    this.running = false
  }

  /**
   * Sends a text to `to` and resolves once the relay accepted it, retrying
   * through network failures and restarts.
   */
  async sendText(to: string, body: string): Promise<void> {
    this.clock = Math.max(Date.now(), this.clock + 1)
    const message: Sent = {
      id: toBase64Url(randomBytes(16)),
      to,
      body,
      accepted: false,
      deliveredTo: new Set(),
    }
    this.sent.push(message)
    await this.deliver(to, { kind: 'text', id: message.id, body, sentAt: this.clock })
    message.accepted = true
  }

  /** Encrypts for every device and posts, until accepted. */
  private async deliver(to: string, content: Content): Promise<void> {
    let refresh = false
    for (;;) {
      let envelopes: { deviceId: string; content: string }[]
      try {
        envelopes = await this.seal(to, content, refresh)
      } catch (error) {
        if (!isTransient(error)) throw error
        await sleep(100)
        continue
      }
      // The same bytes again after an unknown outcome: the relay may have
      // stored them, and the recipients drop the copy.
      for (;;) {
        try {
          await this.relay.send({ to, envelopes, urgent: content.kind === 'text' })
          return
        } catch (error) {
          if (error instanceof RelayError && error.mismatch) {
            refresh = true
            break
          }
          if (!isTransient(error)) throw error
          const limited = error instanceof RelayError && error.status === 429
          await sleep(limited ? 1_000 : 50 + Math.random() * 150)
        }
      }
    }
  }

  private async seal(to: string, content: Content, refresh: boolean) {
    const own = await this.verified(this.username, refresh)
    const contact = to === this.username ? null : await this.verified(to, refresh)
    const recipients = [
      ...(contact?.devices ?? []).map((device) => ({ device, self: false })),
      ...own.devices
        .filter((device) => device.deviceId !== this.deviceId)
        .map((device) => ({ device, self: true })),
    ]
    return await this.exclusive(async () => {
      const envelopes: { deviceId: string; content: string }[] = []
      for (const { device, self } of recipients) {
        let record = this.sessions.get(device.deviceId)
        if (!record?.active) {
          const owner = self ? this.username : to
          const { bundles } = await this.relay.bundles(owner, [device.deviceId])
          const bundle = bundles[0]
          if (!bundle) throw new Error(`seal: no bundle for ${device.deviceId}`)
          const prekeys = decodeBundle(bundle)
          if (!equalBytes(prekeys.identityKey, device.identityKey)) {
            throw new Error('seal: bundle of another identity')
          }
          record = await startSession(
            record ?? null,
            this.keys.identity,
            device.deviceId,
            prekeys,
          )
        }
        const plaintext = encodeContent(self ? copyForOwnDevice(to, content) : content)
        const sealed = encrypt(record, plaintext)
        this.sessions.set(device.deviceId, sealed.record)
        envelopes.push({ deviceId: device.deviceId, content: toBase64(sealed.message) })
      }
      return envelopes
    })
  }

  private async verified(username: string, refresh: boolean): Promise<VerifiedAccount> {
    const known = this.accounts.get(username)
    if (known && !refresh) return known
    const fetched = verifyAccount(await this.relay.account(username))
    this.accounts.set(username, fetched)
    return fetched
  }

  /** One pass over the queue: store what is new, acknowledge, send receipts. */
  async receive(): Promise<number> {
    const { envelopes } = await this.relay.queue(0, 200)
    if (envelopes.length === 0) return 0
    const seqs: number[] = []
    for (const envelope of envelopes) {
      await this.receiveOne(envelope)
      seqs.push(envelope.seq)
    }
    await this.relay.ack(seqs)
    await this.sendReceipts()
    return envelopes.length
  }

  private async receiveOne(envelope: WireEnvelope): Promise<void> {
    if (this.processed.has(envelope.seq)) {
      this.copiesDropped++
      return
    }
    // Decrypt, attribute, then keep: a failure before the end (the network,
    // while the account is looked up) leaves the envelope for the next pass.
    const applied = await this.exclusive(async () => {
      let result: Awaited<ReturnType<typeof decrypt>>
      try {
        result = await decrypt(
          this.sessions.get(envelope.senderDeviceId) ?? null,
          {
            ourKeys: this.keys,
            ourDeviceId: this.deviceId,
            theirDeviceId: envelope.senderDeviceId,
          },
          fromBase64(envelope.content),
        )
      } catch (error) {
        if (error instanceof DuplicateMessageError) return false
        throw error
      }
      const from = await this.ownerOf(envelope.senderDeviceId)
      this.sessions.set(envelope.senderDeviceId, result.record)
      if (result.consumed) this.keys = deleteConsumed(this.keys, result.consumed)
      this.apply(from, envelope.senderDeviceId, decodeContent(result.plaintext))
      return true
    })
    this.processed.add(envelope.seq)
    if (!applied) this.copiesDropped++
  }

  /** The account whose signed list names the device. */
  private async ownerOf(deviceId: string): Promise<string> {
    for (let refresh = false; ; refresh = true) {
      for (const username of [...this.accounts.keys()]) {
        const account = await this.verified(username, refresh)
        if (account.devices.some((device) => device.deviceId === deviceId))
          return username
      }
      if (refresh) throw new Error(`receive: device ${deviceId} is on no known list`)
    }
  }

  private apply(from: string, fromDevice: string, content: Content): void {
    const show = (id: string, body: string, author: string) => {
      const known = this.shown.get(id)
      if (known) {
        known.times++
        return
      }
      this.shown.set(id, { id, body, from: author, times: 1 })
    }
    switch (content.kind) {
      case 'text':
        if (from === this.username) return
        if (this.shown.has(content.id)) {
          this.copiesDropped++
          return
        }
        show(content.id, content.body, from)
        this.receipts.set(from, (this.receipts.get(from) ?? new Set()).add(content.id))
        return
      case 'sent-sync':
        if (from !== this.username) return
        if (this.shown.has(content.message.id)) {
          this.copiesDropped++
          return
        }
        show(content.message.id, content.message.body, this.username)
        return
      case 'delivery-receipt':
      case 'read-receipt':
        if (from === this.username) return
        for (const id of content.ids) {
          this.sent.find((message) => message.id === id)?.deliveredTo.add(fromDevice)
        }
        return
      default:
        return
    }
  }

  private async sendReceipts(): Promise<void> {
    for (const [to, ids] of [...this.receipts]) {
      this.receipts.delete(to)
      await this.deliver(to, { kind: 'delivery-receipt', ids: [...ids].slice(0, 500) })
    }
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.lock.then(task, task)
    this.lock = run.catch(() => undefined)
    return run
  }

  /**
   * Learns an account's devices now (so messages from it can be attributed).
   * @returns the ids of the devices its signed list names
   */
  async know(username: string): Promise<string[]> {
    return (await this.verified(username, true)).devices.map((device) => device.deviceId)
  }
}

/** What our own other devices get instead (as the browser's outbox does). */
function copyForOwnDevice(to: string, content: Content): Content {
  if (content.kind === 'text') {
    return {
      kind: 'sent-sync',
      to,
      message: { id: content.id, body: content.body, sentAt: content.sentAt },
    }
  }
  return content
}
