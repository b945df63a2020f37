/**
 * The raw-SSE peer for the store-and-forward benchmark: a bare `node:http`
 * relay that keeps its queues in memory (`raw-sse-server.ts`, in its own
 * process so its CPU and RSS are counted apart from the harness), driven
 * over keep-alive HTTP/1.1. It is the ceiling for Node on this machine, not
 * a product: nothing survives its crash.
 *
 * - A send is one `POST /send?to=<n>` on the sender's own connection (an
 *   agent with one socket per sender, like one client per device), accepted
 *   on the 200.
 * - A receiver reads `GET /stream/<n>` and acknowledges the highest seq it
 *   handed over with `POST /ack/<n>` on a second connection, batched as
 *   StreamReceiver (http.ts) does for both SSE peers.
 * - Idle connections are `GET /idle` streams.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import type http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

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
import { stopChild } from './process'

const SERVER = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  'raw-sse-server.ts',
)
/** Kills the child if this process dies first, even by SIGKILL (util-linux). */
const SETPRIV = '/usr/bin/setpriv'
/** One receiver's stream and acks: `<seq> <base64>` lines, acked by highest seq. */
function rawProtocol(
  base: () => URL,
  streams: http.Agent,
  receiver: number,
): StreamProtocol {
  const acks = clientAgent()
  return {
    open: (_lastSeq, onEvent) =>
      openStream(streams, new URL(`/stream/${receiver}`, base()), {}, onEvent),
    envelopes: (event) =>
      event.data.split('\n').map((line) => {
        const space = line.indexOf(' ')
        return {
          seq: Number(line.slice(0, space)),
          payload: new Uint8Array(Buffer.from(line.slice(space + 1), 'base64')),
        }
      }),
    acknowledge: async (seqs) => {
      const url = new URL(`/ack/${receiver}?seq=${seqs[seqs.length - 1]}`, base())
      await request(acks, url, 'POST', {})
    },
    close: () => acks.destroy(),
  }
}

class RawSsePeer implements Peer {
  readonly name = 'raw-sse'
  private child: ChildProcess | null = null
  private base = new URL('http://127.0.0.1/')
  private senders: http.Agent[] = []
  private streams = streamAgent()
  private receivers = new Map<
    number,
    { receiver: StreamReceiver; onEnvelope: (payload: Uint8Array) => void }
  >()
  private readonly killChild = () => this.child?.kill('SIGKILL')

  async start(devices: number, _dataDir: string): Promise<void> {
    process.on('exit', this.killChild)
    await this.launch()
    // Queues come into being with their first envelope: nothing to set up.
    this.senders = Array.from({ length: devices }, () => clientAgent())
  }

  serverPids(): number[] {
    return this.child?.pid ? [this.child.pid] : []
  }

  async connect(receiver: number, onEnvelope: (payload: Uint8Array) => void) {
    const protocol = rawProtocol(() => this.base, this.streams, receiver)
    const entry = new StreamReceiver(protocol, onEnvelope)
    this.receivers.set(receiver, { receiver: entry, onEnvelope })
    await entry.open()
  }

  async disconnect(receiver: number): Promise<void> {
    const entry = this.receivers.get(receiver)
    this.receivers.delete(receiver)
    await entry?.receiver.close()
  }

  async send(sender: number, receiver: number, payload: Uint8Array): Promise<void> {
    const url = new URL(`/send?to=${receiver}`, this.base)
    await request(this.senders[sender], url, 'POST', { body: payload })
  }

  async crash(): Promise<void> {
    await stopChild(this.child)
    // Sequence numbers start over in the new process: so do the receivers.
    const receivers = [...this.receivers]
    await Promise.all(receivers.map(([n]) => this.disconnect(n)))
    // Kept-alive sockets point at the dead process: start over with new ones.
    for (const agent of this.senders) agent.destroy()
    this.senders = this.senders.map(() => clientAgent())
    await this.launch()
    await Promise.all(receivers.map(([n, { onEnvelope }]) => this.connect(n, onEnvelope)))
  }

  openIdle(count: number): Promise<() => Promise<void>> {
    return openIdleStreams(new URL('/idle', this.base), count)
  }

  async stop(): Promise<void> {
    await Promise.all([...this.receivers.keys()].map((n) => this.disconnect(n)))
    for (const agent of this.senders) agent.destroy()
    this.senders = []
    this.streams.destroy()
    this.streams = streamAgent()
    await stopChild(this.child, 'SIGTERM')
    this.child = null
    process.off('exit', this.killChild)
  }

  /** Starts the server process and waits for the port it prints. */
  private async launch() {
    const args = [process.execPath, '--import', 'tsx', SERVER]
    const child = spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', ...args], {
      // stdin stays open: the server exits when it closes.
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    this.child = child
    const port = await new Promise<number>((resolve, reject) => {
      let output = ''
      child.stdout?.setEncoding('utf8')
      child.stdout?.on('data', (chunk: string) => {
        output += chunk
        const match = /listening (\d+)/.exec(output)
        if (match) resolve(Number(match[1]))
      })
      child.once('exit', (code) => reject(new Error(`raw-sse server exited (${code})`)))
    })
    this.base = new URL(`http://127.0.0.1:${port}/`)
  }
}

export function rawSsePeer(): Peer {
  return new RawSsePeer()
}
