import 'server-only'

import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'

import { createClient } from 'redis'

import type { WireEnvelope } from '@/lib/core/api'

import { forgetDevice } from '../auth/credentials'
import { logger, redactId } from '../log'

const log = logger('hub')

/** Something a device's open stream is told about. */
export type StreamNotice =
  | { kind: 'envelopes'; envelopes: WireEnvelope[] }
  | { kind: 'prekeys-low'; oneTimePrekeys: number; oneTimeKemPrekeys: number }
  /** The device was unlinked: its streams end. */
  | { kind: 'revoked' }

type Listener = (notice: StreamNotice) => void

/** An open stream's registration with the hub. */
export interface Subscription {
  /**
   * Settles once notices published anywhere reach this stream. A stream
   * reads its backlog only after this, so nothing committed in between is
   * missed. Rejects when the shared channel cannot be joined.
   */
  ready: Promise<void>
  close(): void
}

/**
 * Fan-out from the request that stored an envelope to the open streams of
 * its recipient device, and who is online.
 *
 * Without `REDIS_URL` everything stays in this process. With it, notices
 * also go over Redis pub/sub (a channel per device, joined while the device
 * has a stream here), and presence is shared through keys that expire when
 * an instance stops refreshing them, so a killed instance's devices read
 * as offline within PRESENCE_TTL_MS. No instance needs to be sticky.
 */
export class DeliveryHub {
  readonly #listeners = new Map<string, Set<Listener>>()

  /** Registers an open stream of a device. */
  subscribe(deviceId: string, listener: Listener): Subscription {
    let set = this.#listeners.get(deviceId)
    const first = !set
    if (!set) {
      set = new Set()
      this.#listeners.set(deviceId, set)
    }
    set.add(listener)
    const ready = first ? this.joined(deviceId) : this.stillJoined(deviceId)

    let closed = false
    return {
      ready,
      close: () => {
        if (closed) return
        closed = true
        set.delete(listener)
        if (set.size > 0 || this.#listeners.get(deviceId) !== set) return
        this.#listeners.delete(deviceId)
        this.left(deviceId)
      },
    }
  }

  /**
   * Tells every open stream of a device, here and on other instances.
   * A failing stream never fails the sender, whose envelope is already
   * stored.
   * @returns how many streams here plus instances elsewhere were told: 0
   *   means the device is offline
   */
  publish(deviceId: string, notice: StreamNotice): Promise<number> {
    return Promise.resolve(this.tellLocal(deviceId, notice))
  }

  /**
   * A device was unlinked: its credentials stop working at once on every
   * instance (they are cached for a while), and its open streams end.
   */
  async removed(deviceId: string): Promise<void> {
    forgetDevice(deviceId)
    await this.publish(deviceId, { kind: 'revoked' })
  }

  /** Open streams of one device in this process. */
  streamsOf(deviceId: string): number {
    return this.#listeners.get(deviceId)?.size ?? 0
  }

  /** Which of these devices have an open stream on any instance. */
  onlineOf(deviceIds: string[]): Promise<Set<string>> {
    return Promise.resolve(new Set(deviceIds.filter((id) => this.#listeners.has(id))))
  }

  /** Devices with a stream in this process. */
  protected localDevices(): string[] {
    return [...this.#listeners.keys()]
  }

  protected tellLocal(deviceId: string, notice: StreamNotice): number {
    const set = this.#listeners.get(deviceId)
    if (!set) return 0
    for (const listener of set) {
      try {
        listener(notice)
      } catch (error) {
        log.warn({ device: redactId(deviceId), err: error }, 'stream listener failed')
      }
    }
    return set.size
  }

  /** A device got its first stream here. */
  protected joined(_deviceId: string): Promise<void> {
    return Promise.resolve()
  }

  /** Another stream of a device that already has one here. */
  protected stillJoined(_deviceId: string): Promise<void> {
    return Promise.resolve()
  }

  /** A device's last stream here closed. */
  protected left(_deviceId: string): void {}
}

/** Shared presence outlives a silent instance by at most this long. */
const PRESENCE_TTL_MS = 45_000
const PRESENCE_REFRESH_MS = 15_000

type Redis = ReturnType<typeof createClient>
type Message = { from: string; notice: StreamNotice }

/**
 * The hub across instances: Redis pub/sub for notices, a sorted set per
 * device for presence (member: instance, score: when the claim expires).
 */
class RedisDeliveryHub extends DeliveryHub {
  readonly #instance = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  readonly #publisher: Redis
  readonly #subscriber: Redis
  readonly #connected: Promise<void>
  /** The latest join of each device's channel, for streams that follow. */
  readonly #joins = new Map<string, Promise<void>>()

  constructor(url: string) {
    super()
    this.#publisher = createClient({ url })
    this.#subscriber = this.#publisher.duplicate()
    for (const [role, client] of [
      ['publisher', this.#publisher],
      ['subscriber', this.#subscriber],
    ] as const) {
      // node-redis reconnects (and resubscribes) by itself; say so once per error.
      client.on('error', (error: unknown) =>
        log.error({ err: error, role }, 'redis error'),
      )
    }
    this.#connected = Promise.all([this.#publisher.connect(), this.#subscriber.connect()])
      .then(() =>
        this.#subscriber.subscribe(REMOVED, (deviceId) => forgetDevice(deviceId)),
      )
      .then(() =>
        log.info({ instance: this.#instance }, 'hub shares streams through redis'),
      )
    this.#connected.catch(() => undefined)

    const refresh = setInterval(
      () => void this.#claim(this.localDevices()),
      PRESENCE_REFRESH_MS,
    )
    refresh.unref()
  }

  override async publish(deviceId: string, notice: StreamNotice): Promise<number> {
    const here = this.tellLocal(deviceId, notice)
    const message: Message = { from: this.#instance, notice }
    try {
      await this.#connected
      const receivers = await this.#publisher.publish(
        channel(deviceId),
        JSON.stringify(message),
      )
      // This instance is among the receivers while it has a stream of the device.
      return here + Math.max(0, receivers - (here > 0 ? 1 : 0))
    } catch (error) {
      log.error({ device: redactId(deviceId), err: error }, 'redis publish failed')
      return here
    }
  }

  override async removed(deviceId: string): Promise<void> {
    await super.removed(deviceId)
    try {
      await this.#connected
      await this.#publisher.publish(REMOVED, deviceId)
    } catch (error) {
      // The other instances' caches let the credential go within 30 s anyway.
      log.error({ device: redactId(deviceId), err: error }, 'redis publish failed')
    }
  }

  override async onlineOf(deviceIds: string[]): Promise<Set<string>> {
    const online = await super.onlineOf(deviceIds)
    const elsewhere = deviceIds.filter((id) => !online.has(id))
    if (elsewhere.length === 0) return online

    try {
      await this.#connected
      const now = Date.now()
      const batch = this.#publisher.multi()
      for (const id of elsewhere) batch.zCount(presenceKey(id), now, '+inf')
      const counts = await batch.execAsPipeline()
      elsewhere.forEach((id, i) => {
        if (Number(counts[i]) > 0) online.add(id)
      })
    } catch (error) {
      log.error({ err: error }, 'redis presence read failed')
    }
    return online
  }

  protected override joined(deviceId: string): Promise<void> {
    const join = (async () => {
      await this.#connected
      await this.#subscriber.subscribe(channel(deviceId), this.#onMessage)
      await this.#claim([deviceId])
    })()
    this.#joins.set(deviceId, join)
    return join
  }

  protected override stillJoined(deviceId: string): Promise<void> {
    return this.#joins.get(deviceId) ?? Promise.resolve()
  }

  protected override left(deviceId: string): void {
    this.#joins.delete(deviceId)
    void (async () => {
      await this.#connected
      await this.#subscriber.unsubscribe(channel(deviceId), this.#onMessage)
      await this.#publisher.zRem(presenceKey(deviceId), this.#instance)
    })().catch((error: unknown) => {
      // The claim expires by itself; a stray subscription only costs a message.
      log.warn({ device: redactId(deviceId), err: error }, 'redis leave failed')
    })
  }

  readonly #onMessage = (raw: string, name: string) => {
    let message: Message
    try {
      message = JSON.parse(raw) as Message
    } catch {
      log.warn({ channel: name }, 'unreadable hub message dropped')
      return
    }
    // Local streams were told directly when this instance published.
    if (message.from === this.#instance) return
    this.tellLocal(name.slice(CHANNEL.length), message.notice)
  }

  /** Claims (or renews) presence of these devices for this instance. */
  async #claim(deviceIds: string[]): Promise<void> {
    if (deviceIds.length === 0) return
    try {
      await this.#connected
      const until = Date.now() + PRESENCE_TTL_MS
      const batch = this.#publisher.multi()
      for (const id of deviceIds) {
        batch.zAdd(presenceKey(id), { score: until, value: this.#instance })
        batch.pExpire(presenceKey(id), PRESENCE_TTL_MS)
      }
      await batch.execAsPipeline()
    } catch (error) {
      log.error({ devices: deviceIds.length, err: error }, 'redis presence claim failed')
    }
  }
}

const CHANNEL = 'tidings:device:'
/** Every instance listens here for unlinked devices. */
const REMOVED = 'tidings:removed'
const channel = (deviceId: string) => CHANNEL + deviceId
const presenceKey = (deviceId: string) => `tidings:presence:${deviceId}`

const HUB = Symbol.for('tidings.delivery-hub')
type Holder = typeof globalThis & { [HUB]?: DeliveryHub }

/**
 * The process's hub (kept on globalThis so every route bundle shares it):
 * shared through Redis when `REDIS_URL` is set, in memory otherwise.
 */
export function deliveryHub(): DeliveryHub {
  const holder = globalThis as Holder
  const url = process.env.REDIS_URL
  holder[HUB] ??= url ? new RedisDeliveryHub(url) : new DeliveryHub()
  return holder[HUB]
}
