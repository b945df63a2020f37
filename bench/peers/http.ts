/**
 * The HTTP client side shared by the benchmark's two SSE peers (Tidings'
 * relay and the raw Node relay): requests on kept-alive sockets, streams
 * parsed with eventsource-parser, and a receiver that acknowledges in
 * batches. Both peers are driven the same way, so the difference between
 * their figures is the server's.
 */
import http from 'node:http'

import { createParser, type EventSourceMessage } from 'eventsource-parser'

/** One socket per client, like one device's connection. */
export function clientAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 1, noDelay: true })
}

/** Many streams at once, one socket each. */
export function streamAgent(): http.Agent {
  return new http.Agent({ keepAlive: false, maxSockets: Infinity, noDelay: true })
}

/**
 * Sends one request and reads the whole answer.
 * @returns the answer's body; rejects unless the status is 2xx
 */
export function request(
  agent: http.Agent,
  url: URL,
  method: string,
  {
    body,
    headers = {},
  }: { body?: string | Uint8Array; headers?: http.OutgoingHttpHeaders },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body?.byteLength
    const req = http.request(
      url,
      { method, agent, headers: { ...headers, 'content-length': String(length ?? 0) } },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          const status = res.statusCode ?? 0
          if (status >= 200 && status < 300) resolve(text)
          else reject(new Error(`${method} ${url.pathname}: HTTP ${status} ${text}`))
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * Opens a Server-Sent Events stream; resolves with it once the headers are
 * in. Every event goes to `onEvent`; a stream cut by a crash or a close
 * just ends.
 */
export function openStream(
  agent: http.Agent,
  url: URL,
  headers: http.OutgoingHttpHeaders,
  onEvent: (event: EventSourceMessage) => void,
): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}`))
        res.resume()
        return
      }
      const parser = createParser({ onEvent })
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => parser.feed(chunk))
      res.on('error', () => {})
      resolve(req)
    })
    req.on('error', reject)
  })
}

/** Streams opened at once by openIdleStreams(): the listen backlog is finite. */
const CONNECT_BATCH = 500

/**
 * Opens `count` streams that nobody reads, a batch at a time, each on a
 * socket of its own: `headers(i)` gives the i-th stream's request headers.
 * @returns the function that closes them all
 */
export async function openIdleStreams(
  url: URL,
  count: number,
  headers: (index: number) => http.OutgoingHttpHeaders = () => ({}),
): Promise<() => Promise<void>> {
  const agent = streamAgent()
  const streams: http.ClientRequest[] = []
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, (_, k) =>
      openStream(agent, url, headers(i + k), () => {}),
    )
    streams.push(...(await Promise.all(batch)))
  }
  return async () => {
    for (const stream of streams) stream.destroy()
    agent.destroy()
    await Promise.resolve()
  }
}

/** What a receiver needs to know of its protocol. */
export interface StreamProtocol {
  /** Opens the stream, resuming after `lastSeq` where the protocol can. */
  open(
    lastSeq: number,
    onEvent: (event: EventSourceMessage) => void,
  ): Promise<http.ClientRequest>
  /** The envelopes one event carries, with their sequence numbers. */
  envelopes(event: EventSourceMessage): { seq: number; payload: Uint8Array }[]
  /** Tells the server these envelopes are kept (ascending seqs). */
  acknowledge(seqs: number[]): Promise<void>
  /** Lets go of the connections the acknowledgements used. */
  close(): void
}

/** Acknowledge ACK_DELAY_MS after the first unacknowledged envelope… */
const ACK_DELAY_MS = 5
/** …or at once after this many. */
const ACK_EVERY = 256

/**
 * A receiving device on an SSE stream. It hands each envelope over once
 * (skipping what a lost ack brings back) and acknowledges in batches, with
 * at most one acknowledgement in flight, so acks stay a small part of the
 * traffic while the server's queue stays short.
 */
export class StreamReceiver {
  private stream: http.ClientRequest | null = null
  private closing = false
  /** Highest seq handed over; seqs handed over and not yet acknowledged. */
  private delivered = 0
  private unacked: number[] = []
  private timer: ReturnType<typeof setTimeout> | null = null
  private inFlight: Promise<void> | null = null

  constructor(
    private readonly protocol: StreamProtocol,
    private readonly onEnvelope: (payload: Uint8Array) => void,
  ) {}

  async open(): Promise<void> {
    this.stream = await this.protocol.open(this.delivered, (event) => {
      // Once closing, nothing more is handed over, so nothing more is
      // acknowledged: the server sends it again on the next stream.
      if (this.closing) return
      for (const { seq, payload } of this.protocol.envelopes(event)) {
        if (seq <= this.delivered) continue
        this.delivered = seq
        this.unacked.push(seq)
        this.onEnvelope(payload)
      }
      this.scheduleAck()
    })
  }

  async close(): Promise<void> {
    this.closing = true
    this.stream?.destroy()
    this.stream = null
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.inFlight
    // What was handed over must not come back next time.
    if (this.unacked.length > 0) await this.sendAck().catch(() => {})
    this.protocol.close()
  }

  private scheduleAck() {
    if (this.inFlight) return // the ack in flight schedules the next one
    if (this.unacked.length >= ACK_EVERY) {
      if (this.timer) clearTimeout(this.timer)
      this.timer = null
      this.flushAck()
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = null
        this.flushAck()
      }, ACK_DELAY_MS)
    }
  }

  private flushAck() {
    if (this.closing || this.unacked.length === 0) return
    this.inFlight = this.sendAck()
      .catch(() => {}) // the server is gone: the envelopes come again, or never
      .finally(() => {
        this.inFlight = null
        if (this.unacked.length > 0) this.scheduleAck()
      })
  }

  private async sendAck() {
    const seqs = this.unacked
    this.unacked = []
    try {
      await this.protocol.acknowledge(seqs)
    } catch (error) {
      this.unacked = [...seqs, ...this.unacked]
      throw error
    }
  }
}
