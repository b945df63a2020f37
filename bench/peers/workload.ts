/**
 * The store-and-forward workload that `npm run bench` (bench/run.ts) and
 * the peers' self-check (check.ts) put through every peer: 500-byte opaque
 * envelopes from numbered senders to numbered receivers, each carrying its
 * send time and a sequence number, counted as they arrive.
 */
import { type Peer } from './peer'

export const ENVELOPE_BYTES = 500

/** Milliseconds since the epoch, with sub-millisecond precision. */
export const now = () => performance.timeOrigin + performance.now()
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** 500 bytes: the send time (float64), then the sequence number (uint32). */
export function envelope(seq: number): Uint8Array {
  const bytes = new Uint8Array(ENVELOPE_BYTES)
  const view = new DataView(bytes.buffer)
  view.setFloat64(0, now())
  view.setUint32(8, seq)
  return bytes
}

/** Envelope `seq` goes from sender seq % n to receiver (seq * 7 + 3) % n. */
export function route(seq: number, devices: number) {
  return { sender: seq % devices, receiver: (seq * 7 + 3) % devices }
}

/** What arrived: how often each sequence number, when and how late the first time. */
export class Tally {
  readonly counts = new Map<number, number>()
  readonly latencies = new Map<number, number>()
  readonly arrivals = new Map<number, number>()

  /** The receivers' callback: one call per envelope handed over. */
  record(payload: Uint8Array): void {
    if (payload.byteLength !== ENVELOPE_BYTES) throw new Error('wrong envelope size')
    const view = new DataView(payload.buffer, payload.byteOffset)
    const seq = view.getUint32(8)
    const count = (this.counts.get(seq) ?? 0) + 1
    this.counts.set(seq, count)
    if (count > 1) return
    const arrived = now()
    this.arrivals.set(seq, arrived)
    this.latencies.set(seq, arrived - view.getFloat64(0))
  }

  /** How many of [from, to) arrived, and how many arrived more than once. */
  of(from: number, to: number) {
    let arrived = 0
    let duplicated = 0
    for (let seq = from; seq < to; seq++) {
      const count = this.counts.get(seq) ?? 0
      if (count > 0) arrived++
      if (count > 1) duplicated++
    }
    return { arrived, duplicated }
  }

  /** Latencies of [from, to) that arrived, sorted, in milliseconds. */
  latenciesOf(from: number, to: number): number[] {
    const values: number[] = []
    for (let seq = from; seq < to; seq++) {
      const latency = this.latencies.get(seq)
      if (latency !== undefined) values.push(latency)
    }
    return values.sort((a, b) => a - b)
  }

  /** When the last of [from, to) to arrive arrived (ms since the epoch). */
  lastArrival(from: number, to: number): number {
    let last = 0
    for (let seq = from; seq < to; seq++)
      last = Math.max(last, this.arrivals.get(seq) ?? 0)
    return last
  }
}

/** Connects or disconnects every receiver at once; what arrives goes to `tally`. */
export function allReceivers(peer: Peer, devices: number, tally: Tally) {
  const receivers = Array.from({ length: devices }, (_, n) => n)
  return {
    connectAll: () =>
      Promise.all(
        receivers.map((n) => peer.connect(n, (payload) => tally.record(payload))),
      ),
    disconnectAll: () => Promise.all(receivers.map((n) => peer.disconnect(n))),
  }
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

/**
 * Sends seq [from, to) as fast as the peer takes them: every sender at
 * once, each one envelope after another (closed loop).
 * @returns how many sends the peer refused
 */
export async function sendAll(peer: Peer, devices: number, from: number, to: number) {
  const bySender = Array.from({ length: devices }, (): number[] => [])
  for (let seq = from; seq < to; seq++) bySender[route(seq, devices).sender]?.push(seq)
  let refused = 0
  await Promise.all(
    bySender.map(async (seqs) => {
      for (const seq of seqs) {
        const { sender, receiver } = route(seq, devices)
        await peer.send(sender, receiver, envelope(seq)).catch(() => refused++)
      }
    }),
  )
  return refused
}

/**
 * Sends seq [from, to) at a fixed rate whatever the peer does (open loop):
 * envelope k is due k / rate seconds after the start. A sender whose last
 * send is still unanswered queues the next one on its connection, as a
 * client would, and that wait counts in the latency.
 * @returns how many sends the peer refused
 */
export async function sendAtRate(
  peer: Peer,
  devices: number,
  from: number,
  to: number,
  perSecond: number,
) {
  const started = now()
  const sends: Promise<void>[] = []
  let refused = 0
  let next = from
  while (next < to) {
    const due = Math.min(
      to,
      from + Math.floor(((now() - started) * perSecond) / 1000) + 1,
    )
    for (; next < due; next++) {
      const { sender, receiver } = route(next, devices)
      sends.push(peer.send(sender, receiver, envelope(next)).catch(() => void refused++))
    }
    await sleep(1)
  }
  await Promise.all(sends)
  return refused
}

/**
 * Waits until every envelope of [from, to) has arrived, or none has for
 * `quietMs`, then a moment more for duplicates to show.
 */
export async function waitForArrivals(
  tally: Tally,
  from: number,
  to: number,
  quietMs = 5_000,
) {
  let seen = -1
  let lastChange = now()
  for (;;) {
    const { arrived } = tally.of(from, to)
    if (arrived !== seen) {
      seen = arrived
      lastChange = now()
    }
    if (arrived === to - from || now() - lastChange > quietMs) break
    await sleep(10)
  }
  await sleep(300)
}
