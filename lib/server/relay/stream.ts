import 'server-only'

import type { WireEnvelope } from '@/lib/core/api'

import type { DeviceIdentity } from '../auth/credentials'
import { withDb } from '../db/client'
import { prekeyStock } from '../keys/prekeys'
import { logger, redactId } from '../log'
import { deliveryHub, type StreamNotice, type Subscription } from './hub'
import { markSeen } from './presence'
import { readQueue } from './queue'

const log = logger('stream')

/** A comment line this often keeps proxies and browsers from closing the stream. */
const HEARTBEAT_MS = 15_000

/** Envelopes per backlog read. */
const PAGE = 500

/** Base64 bytes per event at most (one envelope always fits, whatever its size). */
const EVENT_BYTES = 1_000_000

/** Events buffered for a slow reader before the stream waits for it. */
const BUFFERED_EVENTS = 16

/**
 * Open streams one device may hold at once (tabs, service worker).
 * Limitation: counted per instance, so with several instances a device may
 * hold this many on each; a stream costs one idle connection, not a queue.
 */
export const MAX_STREAMS_PER_DEVICE = 5

const encoder = new TextEncoder()

/**
 * Opens a device's Server-Sent Events stream.
 *
 * The backlog after `cursor` comes first, then live envelopes, with no gap
 * and no duplicate at the seam: the stream remembers the last sequence it
 * wrote, skips what it has already written and rereads the store when a live
 * notice does not follow on. Each `envelopes` event carries a JSON array and
 * its `id` is the last sequence in it, so a reconnect with Last-Event-ID
 * resumes right after it. `synced` marks the end of the backlog. A slow
 * reader is not buffered without bound: the stream waits for it and rereads
 * the store when it catches up.
 *
 * Envelopes stay stored until the device acknowledges them; a new stream
 * opened without a cursor delivers every unacknowledged one again. The
 * stream ends when its credential expires.
 */
export function openStream(device: DeviceIdentity, cursor: number, signal: AbortSignal) {
  const hub = deliveryHub()
  let lastSeq = cursor
  let closed = false
  // The store is reread while `dirty`; `draining` is true while a read runs.
  let dirty = true
  let draining = false
  let subscription: Subscription | undefined
  let heartbeat: ReturnType<typeof setInterval> | undefined
  let expiry: ReturnType<typeof setTimeout> | undefined
  let close = () => {}
  let wakeWriter = () => {}

  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const write = (text: string) => {
          if (!closed) controller.enqueue(encoder.encode(text))
        }
        const hasRoom = () => (controller.desiredSize ?? 0) > 0
        const room = () =>
          hasRoom() || closed
            ? Promise.resolve()
            : new Promise<void>((resolve) => (wakeWriter = resolve))

        const writeEnvelopes = (envelopes: WireEnvelope[]) => {
          const last = envelopes[envelopes.length - 1]
          if (!last) return
          write(
            `event: envelopes\nid: ${last.seq}\ndata: ${JSON.stringify(envelopes)}\n\n`,
          )
          lastSeq = last.seq
        }

        // Reads the store from lastSeq on until nothing new is left. Only one
        // drain runs at a time: `draining` is set before its first await, and
        // the check of `dirty` and the reset of `draining` happen in one
        // synchronous step, so a notice arriving at any moment is never lost.
        let checkedCursor = false
        const drain = async () => {
          draining = true
          try {
            if (!checkedCursor) {
              checkedCursor = true
              // A cursor past the end of the queue (a stale client, a restored
              // store) would hide every new envelope: start from the beginning.
              const head = await withDb((db) =>
                db.device.findUnique({
                  where: { id: device.deviceId },
                  select: { nextSeq: true },
                }),
              )
              if (head && cursor >= head.nextSeq) lastSeq = 0
            }
            while (dirty && !closed) {
              dirty = false
              for (;;) {
                // A reader that does not keep up is waited for, not buffered.
                await room()
                const page = await readQueue(device.deviceId, lastSeq, PAGE)
                for (const event of splitBySize(page)) {
                  await room()
                  if (closed) return
                  writeEnvelopes(event)
                }
                if (page.length < PAGE) break
              }
            }
          } finally {
            draining = false
          }
        }
        const fail = (error: unknown) => {
          log.error(
            { device: redactId(device.deviceId), err: error },
            'queue read failed',
          )
          close()
        }
        const kick = () => {
          dirty = true
          if (!draining) void drain().catch(fail)
        }

        const onNotice = (notice: StreamNotice) => {
          switch (notice.kind) {
            case 'envelopes': {
              const fresh = notice.envelopes.filter((envelope) => envelope.seq > lastSeq)
              if (fresh.length === 0) return
              // Write straight through only when it follows on from what was
              // written and the reader keeps up; otherwise reread the store.
              if (!draining && hasRoom() && fresh[0]?.seq === lastSeq + 1) {
                writeEnvelopes(fresh)
              } else {
                kick()
              }
              return
            }
            case 'prekeys-low':
              write(`event: prekeys-low\ndata: ${JSON.stringify(notice)}\n\n`)
              return
            case 'revoked':
              write('event: revoked\ndata: {}\n\n')
              close()
              return
            default:
              notice satisfies never
          }
        }

        close = () => {
          if (closed) return
          closed = true
          clearInterval(heartbeat)
          clearTimeout(expiry)
          subscription?.close()
          wakeWriter()
          void markSeen(device.deviceId)
          try {
            controller.close()
          } catch {
            // already closed by the client going away
          }
          log.debug({ device: redactId(device.deviceId) }, 'stream closed')
        }

        // The client may have gone while the credential was being checked.
        if (signal.aborted) {
          close()
          return
        }
        // Subscribe before reading the backlog so nothing committed in between is missed.
        subscription = hub.subscribe(device.deviceId, onNotice)
        const subscribed = subscription.ready
        signal.addEventListener('abort', close, { once: true })
        heartbeat = setInterval(() => write(': keepalive\n\n'), HEARTBEAT_MS)
        expiry = setTimeout(close, Math.max(0, device.expiresAt - Date.now()))
        void markSeen(device.deviceId)

        write('retry: 2000\n\n')
        // `draining` is set before the first await, so no live notice can
        // start a second drain alongside this one.
        draining = true
        void (async () => {
          await subscribed
          await drain()
          write(`event: synced\ndata: ${JSON.stringify({ lastSeq })}\n\n`)
          const stock = await prekeyStock(device.deviceId)
          if (stock.low) onNotice({ kind: 'prekeys-low', ...stock.counts })
        })().catch(fail)
      },
      pull() {
        wakeWriter()
      },
      cancel() {
        close()
      },
    },
    { highWaterMark: BUFFERED_EVENTS },
  )

  return new Response(stream, {
    headers: {
      'Content-Type': 'text/event-stream; charset=utf-8',
      // no-transform: Next.js compresses event streams otherwise, which
      // buffers them.
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    },
  })
}

/** Splits a page into events of about EVENT_BYTES of content (one envelope at least). */
function splitBySize(page: WireEnvelope[]): WireEnvelope[][] {
  const events: WireEnvelope[][] = []
  let current: WireEnvelope[] = []
  let bytes = 0
  for (const envelope of page) {
    if (current.length > 0 && bytes + envelope.content.length > EVENT_BYTES) {
      events.push(current)
      current = []
      bytes = 0
    }
    current.push(envelope)
    bytes += envelope.content.length
  }
  if (current.length > 0) events.push(current)
  return events
}
