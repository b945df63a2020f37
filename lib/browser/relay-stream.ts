/**
 * The device's Server-Sent Events stream, kept open for as long as the page
 * lives. EventSource cannot send an Authorization header, so the stream is a
 * fetch whose body is parsed with eventsource-parser.
 *
 * It reconnects with exponential backoff (with jitter, so a restarted relay
 * is not hit by every client at once), at once when the browser says it is
 * online again, and drops the connection when the browser says it is
 * offline: an open connection is not always cut when the network goes, so
 * the browser's events are trusted over the socket. A stream that has been
 * silent for longer than three heartbeats is presumed dead and replaced.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser'

import type { WireEnvelope } from '@/lib/core/api'

import { logger } from './log'
import type { RelayClient } from './relay-client'

const log = logger('stream')

/** The relay writes a heartbeat every 15 s; three missed means the link is dead. */
const SILENCE_MS = 45_000
const FIRST_RETRY_MS = 500
const MAX_RETRY_MS = 30_000

export type StreamState = 'connecting' | 'online' | 'offline'

export interface StreamHandlers {
  /** Called for each batch, one at a time; the next waits for it. */
  envelopes: (envelopes: WireEnvelope[]) => Promise<void>
  /** The backlog has been delivered. */
  synced: () => void
  /** The relay holds fewer than 10 one-time prekeys of ours. */
  prekeysLow: () => void
  /** This device was unlinked from its account. */
  revoked: () => void
  state: (state: StreamState) => void
}

/** Keeps one stream open; `stop()` closes it for good. */
export class RelayStream {
  private stopped = false
  private connection: AbortController | null = null
  private wake: () => void = () => {}
  private cursor = 0
  private failures = 0
  private synced = false

  constructor(
    private readonly relay: RelayClient,
    private readonly handlers: StreamHandlers,
  ) {}

  /** Starts the loop; the first connection asks for the whole unacknowledged queue. */
  start(): void {
    addEventListener('online', this.onOnline)
    addEventListener('offline', this.onOffline)
    void this.run()
  }

  stop(): void {
    this.stopped = true
    removeEventListener('online', this.onOnline)
    removeEventListener('offline', this.onOffline)
    this.connection?.abort()
    this.wake()
  }

  private readonly onOnline = () => {
    log.info('browser is online: reconnecting')
    this.failures = 0
    this.wake()
  }

  private readonly onOffline = () => {
    log.info('browser is offline: closing the stream')
    this.connection?.abort()
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!navigator.onLine) {
        this.handlers.state('offline')
        await this.pause(MAX_RETRY_MS)
        continue
      }

      this.handlers.state('connecting')
      try {
        await this.connect()
        // Closed by the relay before the backlog was through: count it as a
        // failure, or a relay that accepts and closes would be hit in a loop.
        if (!this.synced) this.failures++
      } catch (error) {
        if (this.stopped) return
        this.failures++
        log.warn('stream failed', {
          error: error instanceof Error ? error.name : 'unknown',
          failures: this.failures,
        })
      }
      if (this.stopped) return
      this.handlers.state('offline')

      const backoff = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures)
      await this.pause(backoff / 2 + (Math.random() * backoff) / 2)
    }
  }

  /** Waits `ms`, or less when woken (online again, or stopped). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms)
      this.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  /** One connection, until it ends or fails. */
  private async connect(): Promise<void> {
    const controller = new AbortController()
    this.connection = controller
    this.synced = false
    let silence: ReturnType<typeof setTimeout> | undefined
    const heard = () => {
      clearTimeout(silence)
      silence = setTimeout(() => controller.abort(), SILENCE_MS)
    }

    try {
      const token = await this.relay.authorization()
      heard()
      const response = await fetch('/api/stream', {
        headers: {
          authorization: `Bearer ${token}`,
          'last-event-id': String(this.cursor),
        },
        cache: 'no-store',
        signal: controller.signal,
      })
      if (response.status === 401) {
        // Limitation: a device unlinked while it was offline only sees its
        // logins refused and keeps retrying; it is not told it was removed.
        await this.relay.renew()
        throw new Error('stream: credential expired')
      }
      if (!response.ok || !response.body)
        throw new Error(`stream: HTTP ${response.status}`)

      this.handlers.state('online')
      const events: EventSourceMessage[] = []
      const parser = createParser({ onEvent: (event) => events.push(event) })
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        heard()
        parser.feed(value)
        // Handling each batch before reading on is the backpressure: the
        // relay waits for a device that stores slowly.
        for (const event of events.splice(0)) await this.dispatch(event)
      }
    } finally {
      clearTimeout(silence)
      // Ends the request whatever happened, so a failed batch leaves no stream open.
      controller.abort()
      if (this.connection === controller) this.connection = null
    }
  }

  private async dispatch(event: EventSourceMessage): Promise<void> {
    switch (event.event) {
      case 'envelopes': {
        const envelopes = JSON.parse(event.data) as WireEnvelope[]
        await this.handlers.envelopes(envelopes)
        // Resume after this batch on reconnect: it is stored now.
        if (event.id && /^\d+$/.test(event.id)) this.cursor = Number(event.id)
        return
      }
      case 'synced':
        // A healthy connection: the next failure starts the backoff afresh.
        this.synced = true
        this.failures = 0
        this.handlers.synced()
        return
      case 'prekeys-low':
        this.handlers.prekeysLow()
        return
      case 'revoked':
        this.stop()
        this.handlers.revoked()
        return
      default:
        return
    }
  }
}
