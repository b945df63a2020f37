/**
 * Tidings' relay as a peer in the store-and-forward benchmark: the server
 * program exactly as `npm start` runs it (.next/tidings/server.mjs, from
 * `npm run build`), on a fresh SQLite file, or on a throwaway PostgreSQL
 * cluster with TEST_STORE=postgresql.
 *
 * Every receiver and sender is a registered device on its own account,
 * logged in with the challenge the app uses (tests/support/device.ts).
 * - A send is `POST /api/messages` with one envelope, on the sender's own
 *   kept-alive connection, accepted on the 200: the envelope is committed.
 * - A receiver reads `GET /api/stream` and acknowledges what it handed over
 *   with `POST /api/envelopes/ack` (StreamReceiver in http.ts, as for the
 *   raw relay); it resumes with Last-Event-ID.
 * - Idle connections are streams of devices that get nothing, five each
 *   (the most one device may hold open).
 * - crash() is SIGKILL, then the server started again on the same store.
 */
import type http from 'node:http'

import webpush from 'web-push'

import { MAX_ACKS_PER_REQUEST } from '../../lib/core/limits'
import type { WireEnvelope } from '../../lib/core/api'
import { TestDevice } from '../../tests/support/device'
import { startServer, type TestServer } from '../../tests/support/server'
import {
  clientAgent,
  openIdleStreams,
  openStream,
  request,
  streamAgent,
  StreamReceiver,
  type StreamProtocol,
} from './http'
import { type Peer } from './peer'

/** Registrations at once while setting up: each signs a dozen keys. */
const REGISTER_BATCH = 50
const STREAMS_PER_IDLE_DEVICE = 5

/** The credential and client address a device's requests carry. */
function headersOf(device: TestDevice): http.OutgoingHttpHeaders {
  return {
    authorization: `Bearer ${device.token}`,
    'x-forwarded-for': device.address,
  }
}

/** Registers `count` devices, a batch at a time, with no one-time prekeys. */
async function registerMany(baseUrl: string, prefix: string, count: number) {
  const stamp = Math.random().toString(36).slice(2, 8)
  const devices: TestDevice[] = []
  for (let i = 0; i < count; i += REGISTER_BATCH) {
    const batch = Array.from({ length: Math.min(REGISTER_BATCH, count - i) }, (_, k) =>
      new TestDevice(baseUrl, `${prefix}${stamp}${i + k}`).register(0),
    )
    devices.push(...(await Promise.all(batch)))
  }
  return devices
}

/** One receiving device's stream and acknowledgements. */
function relayProtocol(
  base: () => URL,
  streams: http.Agent,
  device: TestDevice,
): StreamProtocol {
  const acks = clientAgent()
  return {
    open: (lastSeq, onEvent) =>
      openStream(
        streams,
        new URL('/api/stream', base()),
        { ...headersOf(device), 'last-event-id': String(lastSeq) },
        onEvent,
      ),
    envelopes: (event) =>
      event.event === 'envelopes'
        ? (JSON.parse(event.data) as WireEnvelope[]).map(({ seq, content }) => ({
            seq,
            payload: new Uint8Array(Buffer.from(content, 'base64')),
          }))
        : [],
    acknowledge: async (seqs) => {
      const url = new URL('/api/envelopes/ack', base())
      for (let i = 0; i < seqs.length; i += MAX_ACKS_PER_REQUEST) {
        const body = JSON.stringify({ seqs: seqs.slice(i, i + MAX_ACKS_PER_REQUEST) })
        await request(acks, url, 'POST', {
          body,
          headers: { ...headersOf(device), 'content-type': 'application/json' },
        })
      }
    },
    close: () => acks.destroy(),
  }
}

class TidingsPeer implements Peer {
  readonly name = 'tidings'
  private server: TestServer | null = null
  private base = new URL('http://127.0.0.1/')
  private receiverDevices: TestDevice[] = []
  private senderDevices: TestDevice[] = []
  private senders: http.Agent[] = []
  private streams = streamAgent()
  private receivers = new Map<number, StreamReceiver>()
  private idleDevices: TestDevice[] = []
  private idleOpened = 0

  // The store gets a folder of its own from startServer().
  async start(devices: number, _dataDir: string): Promise<void> {
    const vapid = webpush.generateVAPIDKeys()
    this.server = await startServer(
      {
        // Each device sends from its own address, as real clients do.
        TRUST_PROXY: '1',
        LOG_LEVEL: 'warn',
        VAPID_PUBLIC_KEY: vapid.publicKey,
        VAPID_PRIVATE_KEY: vapid.privateKey,
        VAPID_SUBJECT: 'mailto:bench@example.org',
      },
      // Node's options for the server alone, such as --cpu-prof to profile it.
      { nodeArgs: process.env.BENCH_SERVER_ARGS?.split(' ').filter(Boolean) },
    )
    this.base = new URL(this.server.url)
    this.receiverDevices = await registerMany(this.server.url, 'r', devices)
    this.senderDevices = await registerMany(this.server.url, 's', devices)
    this.senders = this.senderDevices.map(() => clientAgent())
  }

  serverPids(): number[] {
    const pid = this.server?.pid()
    return pid ? [pid] : []
  }

  async connect(receiver: number, onEnvelope: (payload: Uint8Array) => void) {
    const device = this.receiverDevices[receiver]
    if (!device) throw new Error(`no receiver ${receiver}`)
    const entry = new StreamReceiver(
      relayProtocol(() => this.base, this.streams, device),
      onEnvelope,
    )
    this.receivers.set(receiver, entry)
    await entry.open()
  }

  async disconnect(receiver: number): Promise<void> {
    const entry = this.receivers.get(receiver)
    this.receivers.delete(receiver)
    await entry?.close()
  }

  async send(sender: number, receiver: number, payload: Uint8Array): Promise<void> {
    const from = this.senderDevices[sender]
    const to = this.receiverDevices[receiver]
    const agent = this.senders[sender]
    if (!from || !to || !agent)
      throw new Error(`no sender ${sender} or receiver ${receiver}`)
    const body = JSON.stringify({
      to: to.username,
      envelopes: [
        { deviceId: to.deviceId, content: Buffer.from(payload).toString('base64') },
      ],
    })
    await request(agent, new URL('/api/messages', this.base), 'POST', {
      body,
      headers: { ...headersOf(from), 'content-type': 'application/json' },
    })
  }

  async crash(): Promise<void> {
    const server = this.server
    if (!server) throw new Error('not started')
    await server.kill('SIGKILL')
    // The queues and sequence numbers are on disk: receivers resume where
    // they were, after what they handed over.
    const receivers = [...this.receivers.values()]
    await Promise.all(receivers.map((receiver) => receiver.close()))
    for (const agent of this.senders) agent.destroy()
    this.senders = this.senderDevices.map(() => clientAgent())
    await server.restart()
    await Promise.all(receivers.map((receiver) => receiver.open()))
  }

  async prepareIdle(count: number): Promise<void> {
    const server = this.server
    if (!server) throw new Error('not started')
    const needed = Math.ceil(count / STREAMS_PER_IDLE_DEVICE) - this.idleDevices.length
    if (needed > 0) {
      this.idleDevices.push(...(await registerMany(server.url, 'i', needed)))
    }
  }

  async openIdle(count: number): Promise<() => Promise<void>> {
    // Devices whose streams are open already are not used again.
    const first = Math.ceil(this.idleOpened / STREAMS_PER_IDLE_DEVICE)
    await this.prepareIdle(first * STREAMS_PER_IDLE_DEVICE + count)
    const devices = this.idleDevices.slice(first)
    this.idleOpened = first * STREAMS_PER_IDLE_DEVICE + count
    return openIdleStreams(new URL('/api/stream', this.base), count, (i) => {
      const device = devices[Math.floor(i / STREAMS_PER_IDLE_DEVICE)]
      if (!device) throw new Error('too few idle devices')
      return headersOf(device)
    })
  }

  async stop(): Promise<void> {
    await Promise.all([...this.receivers.keys()].map((n) => this.disconnect(n)))
    for (const agent of this.senders) agent.destroy()
    this.senders = []
    this.streams.destroy()
    this.streams = streamAgent()
    await this.server?.close()
    this.server = null
  }
}

export function tidingsPeer(): Peer {
  return new TidingsPeer()
}
