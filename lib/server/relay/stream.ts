import 'server-only'

import type { WireEnvelope } from '@/lib/core/api'

import type { DeviceIdentity } from '../auth/credentials'
import { logger, redactId } from '../log'
import { deliveryHub, type StreamNotice } from './hub'
import { prekeyStock } from '../keys/prekeys'
import { markSeen } from './presence'
import { readQueue } from './queue'

const log = logger('stream')

/** A comment line this often keeps proxies and browsers from closing the stream. */
const HEARTBEAT_MS = 15_000

/** Envelopes per backlog read and per stream event. */
const PAGE = 500

const encoder = new TextEncoder()

/**
 * Opens a device's Server-Sent Events stream.
 *
 * The backlog after `cursor` comes first, then live envelopes, with no gap
 * and no duplicate at the seam: the stream remembers the last sequence it
 * wrote, skips what it has already written and rereads the store when a live
 * notice does not follow on. Each `envelopes` event carries a JSON array and
 * its `id` is the last sequence in it, so a reconnect with Last-Event-ID
 * resumes right after it. `synced` marks the end of the backlog.
 *
 * Envelopes stay stored until the device acknowledges them; a new stream
 * opened without a cursor delivers every unacknowledged one again.
 */
export function openStream(device: DeviceIdentity, cursor: number, signal: AbortSignal) {
  const hub = deliveryHub()
  let lastSeq = cursor
  let closed = false
  // The store is reread while `dirty`; `draining` is true while a read runs.
  let dirty = true
  let draining = false
  let unsubscribe = () => {}
  let heartbeat: ReturnType<typeof setInterval> | undefined
  let close = () => {}

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (text: string) => {
        if (!closed) controller.enqueue(encoder.encode(text))
      }
      const writeEnvelopes = (envelopes: WireEnvelope[]) => {
        const last = envelopes[envelopes.length - 1]
        if (!last) return
        write(`event: envelopes\nid: ${last.seq}\ndata: ${JSON.stringify(envelopes)}\n\n`)
        lastSeq = last.seq
      }

      // Reads the store from lastSeq on until nothing new is left. The check
      // of `dirty` and the reset of `draining` happen in one synchronous step,
      // so a notice arriving at any moment is never lost.
      const drain = async () => {
        draining = true
        try {
          while (dirty && !closed) {
            dirty = false
            for (;;) {
              const page = await readQueue(device.deviceId, lastSeq, PAGE)
              if (closed) return
              writeEnvelopes(page)
              if (page.length < PAGE) break
            }
          }
        } finally {
          draining = false
        }
      }
      const kick = () => {
        dirty = true
        if (!draining) void drain().catch(fail)
      }
      const fail = (error: unknown) => {
        log.error({ device: redactId(device.deviceId), err: error }, 'queue read failed')
        close()
      }

      const onNotice = (notice: StreamNotice) => {
        switch (notice.kind) {
          case 'envelopes': {
            const fresh = notice.envelopes.filter((envelope) => envelope.seq > lastSeq)
            if (fresh.length === 0) return
            // Write straight through only when it follows on from what was written.
            if (!draining && fresh[0]?.seq === lastSeq + 1) writeEnvelopes(fresh)
            else kick()
            return
          }
          case 'prekeys-low':
            write(`event: prekeys-low\ndata: ${JSON.stringify(notice)}\n\n`)
            return
          default:
            notice satisfies never
        }
      }

      close = () => {
        if (closed) return
        closed = true
        clearInterval(heartbeat)
        unsubscribe()
        void markSeen(device.deviceId)
        try {
          controller.close()
        } catch {
          // already closed by the client going away
        }
        log.debug({ device: redactId(device.deviceId) }, 'stream closed')
      }

      // Subscribe before reading the backlog so nothing committed in between is missed.
      unsubscribe = hub.subscribe(device.deviceId, onNotice)
      signal.addEventListener('abort', close)
      heartbeat = setInterval(() => write(': keepalive\n\n'), HEARTBEAT_MS)
      void markSeen(device.deviceId)

      write('retry: 2000\n\n')
      void drain()
        .then(async () => {
          write(`event: synced\ndata: ${JSON.stringify({ lastSeq })}\n\n`)
          const stock = await prekeyStock(device.deviceId)
          if (stock.low) onNotice({ kind: 'prekeys-low', ...stock.counts })
        })
        .catch(fail)
    },
    cancel() {
      close()
    },
  })

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
