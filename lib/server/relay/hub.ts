import 'server-only'

import type { WireEnvelope } from '@/lib/core/api'

import { logger, redactId } from '../log'

const log = logger('hub')

/** Something a device's open stream is told about. */
export type StreamNotice =
  | { kind: 'envelopes'; envelopes: WireEnvelope[] }
  | { kind: 'prekeys-low'; oneTimePrekeys: number; oneTimeKemPrekeys: number }
  /** The device was unlinked: its streams end. */
  | { kind: 'revoked' }

type Listener = (notice: StreamNotice) => void

/**
 * In-process fan-out from the request that stored an envelope to the open
 * streams of its recipient device, plus who is online.
 *
 * Limitation: one process only. With several instances a device's stream
 * may be on another one; the scale-out issue puts Redis pub/sub behind the
 * same interface.
 */
export class DeliveryHub {
  readonly #listeners = new Map<string, Set<Listener>>()

  /** Registers an open stream; returns the function that closes it. */
  subscribe(deviceId: string, listener: Listener): () => void {
    let set = this.#listeners.get(deviceId)
    if (!set) {
      set = new Set()
      this.#listeners.set(deviceId, set)
    }
    set.add(listener)

    return () => {
      set.delete(listener)
      if (set.size === 0) this.#listeners.delete(deviceId)
    }
  }

  /**
   * Tells every open stream of a device; returns how many were told. A
   * failing stream never fails the sender, whose envelope is already stored.
   */
  publish(deviceId: string, notice: StreamNotice): number {
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

  /** Open streams of one device here. */
  streamsOf(deviceId: string): number {
    return this.#listeners.get(deviceId)?.size ?? 0
  }

  /** Whether the device has at least one open stream here. */
  isOnline(deviceId: string): boolean {
    return this.#listeners.has(deviceId)
  }
}

const HUB = Symbol.for('tidings.delivery-hub')
type Holder = typeof globalThis & { [HUB]?: DeliveryHub }

/** The process's hub (kept on globalThis so every route bundle shares it). */
export function deliveryHub(): DeliveryHub {
  const holder = globalThis as Holder
  holder[HUB] ??= new DeliveryHub()
  return holder[HUB]
}
