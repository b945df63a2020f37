import 'server-only'

import type { ServerResponse } from 'node:http'

import type { WireEnvelope } from '@/lib/core/api'

import type { DeviceIdentity } from '../auth/credentials'
import { relayStore } from '../db/relay-store'
import { prekeyStock } from '../keys/prekeys'
import { logger, redactId } from '../log'
import { deliveryHub, type StreamNotice } from './hub'
import { markSeen } from './presence'
import { readQueue } from './queue'

const log = logger('stream')

/** A comment line this often keeps proxies and browsers from closing the stream. */
const HEARTBEAT_MS = 15_000

/** Envelopes per backlog read. */
const PAGE = 500

/** Base64 bytes per event at most (one envelope always fits, whatever its size). */
const EVENT_BYTES = 1_000_000

/**
 * Open streams one device may hold at once (tabs, service worker).
 * Limitation: counted per instance, so with several instances a device may
 * hold this many on each; a stream costs one idle connection, not a queue.
 */
export const MAX_STREAMS_PER_DEVICE = 5

/** The answer's headers: no caching, no compression, no proxy buffering. */
const STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
}

/** What the shared heartbeat needs of each open stream. */
interface OpenStream {
  beat(now: number): void
}

/**
 * One timer for every stream of the process, not one each: at 10,000 open
 * streams the timers would weigh more than the streams' own state.
 */
const open = new Set<OpenStream>()
let heartbeat: ReturnType<typeof setInterval> | undefined

function track(stream: OpenStream): () => void {
  open.add(stream)
  heartbeat ??= setInterval(() => {
    const now = Date.now()
    for (const each of open) each.beat(now)
  }, HEARTBEAT_MS)
  heartbeat.unref()
  return () => {
    open.delete(stream)
    if (open.size === 0) {
      clearInterval(heartbeat)
      heartbeat = undefined
    }
  }
}

/**
 * Serves a device's Server-Sent Events stream on `response`.
 *
 * The backlog after `cursor` comes first, then live envelopes, with no gap
 * and no duplicate at the seam: the stream remembers the last sequence it
 * wrote, skips what it has already written and rereads the store when a live
 * notice does not follow on. Each `envelopes` event carries a JSON array and
 * its `id` is the last sequence in it, so a reconnect with Last-Event-ID
 * resumes right after it. `synced` marks the end of the backlog. A slow
 * reader is not buffered without bound: the stream waits for the socket to
 * drain and rereads the store when it catches up.
 *
 * Envelopes stay stored until the device acknowledges them; a new stream
 * opened without a cursor delivers every unacknowledged one again. The
 * stream ends when its credential expires (checked at each heartbeat).
 */
export function serveStream(
  device: DeviceIdentity,
  cursor: number,
  response: ServerResponse,
): void {
  const hub = deliveryHub()
  let lastSeq = cursor
  let closed = false
  // The store is reread while `dirty`; `draining` is true while a read runs.
  let dirty = true
  let draining = false

  const write = (text: string) => {
    if (!closed) response.write(text)
  }
  const hasRoom = () => !response.writableNeedDrain
  const room = () =>
    hasRoom() || closed
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const done = () => {
            response.off('drain', done)
            response.off('close', done)
            resolve()
          }
          response.on('drain', done)
          response.on('close', done)
        })

  const writeEnvelopes = (envelopes: WireEnvelope[]) => {
    const last = envelopes[envelopes.length - 1]
    if (!last) return
    write(`event: envelopes\nid: ${last.seq}\ndata: ${JSON.stringify(envelopes)}\n\n`)
    lastSeq = last.seq
  }

  // Reads the store from lastSeq on until nothing new is left. Only one
  // drain runs at a time: `draining` is set before its first await, and the
  // check of `dirty` and the reset of `draining` happen in one synchronous
  // step, so a notice arriving at any moment is never lost.
  let checkedCursor = false
  const drain = async () => {
    draining = true
    try {
      if (!checkedCursor) {
        checkedCursor = true
        // A cursor past the end of the queue (a stale client, a restored
        // store) would hide every new envelope: start from the beginning.
        const next = await relayStore().nextSeq(device.deviceId)
        if (next !== undefined && cursor >= next) lastSeq = 0
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
    log.error({ device: redactId(device.deviceId), err: error }, 'queue read failed')
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

  function close() {
    if (closed) return
    closed = true
    untrack()
    subscription.close()
    markSeen(device.deviceId)
    response.end()
    log.debug({ device: redactId(device.deviceId) }, 'stream closed')
  }

  // The client may have gone while the credential was being checked.
  if (response.destroyed) return
  response.once('close', close)
  response.writeHead(200, STREAM_HEADERS)

  // Subscribe before reading the backlog so nothing committed in between is missed.
  const subscription = hub.subscribe(device.deviceId, onNotice)
  const untrack = track({
    beat: (now) => (now >= device.expiresAt ? close() : write(': keepalive\n\n')),
  })
  markSeen(device.deviceId)

  write('retry: 2000\n\n')
  // `draining` is set before the first await, so no live notice can start
  // a second drain alongside this one.
  draining = true
  void (async () => {
    await subscription.ready
    await drain()
    write(`event: synced\ndata: ${JSON.stringify({ lastSeq })}\n\n`)
    const stock = await prekeyStock(device.deviceId)
    if (stock.low) onNotice({ kind: 'prekeys-low', ...stock.counts })
  })().catch(fail)
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
