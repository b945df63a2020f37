/**
 * The MQTT peer for the store-and-forward benchmark: Debian's mosquitto
 * 2.0.11 as a child process, driven by the `mqtt` npm client.
 *
 * Store and forward is MQTT's persistent session: receiver n is client
 * `r<n>` with `clean: false` (MQTT 3.1.1, where such a session never
 * expires) subscribed to `d/<n>` at QoS 1, so the broker queues what is
 * published there while it is away. A send is a QoS 1 PUBLISH and counts as
 * accepted on PUBACK; a receiver's client PUBACKs each message after handing
 * it over (MQTT has no batched acknowledgement).
 *
 * The broker's settings (written to `mosquitto.conf` in dataDir):
 * - `persistence true` with `autosave_on_changes true` and
 *   `autosave_interval 1`: the in-memory store is written to disk after
 *   every main-loop pass that changed it. Mosquitto has no log, only these
 *   snapshots, so this is its closest setting to "accepted means kept" and
 *   the one that lets queued messages survive SIGKILL; it costs a full
 *   snapshot per pass, which the figures include.
 * - `max_queued_messages 1000000`: the default (1,000 per client) would drop
 *   most of a 20,000-envelope backlog; a bound stays so a runaway test fails.
 * - `max_inflight_messages 100`: QoS 1 messages sent to a client before its
 *   PUBACKs; the default 20 makes draining a backlog round-trip bound.
 * - `set_tcp_nodelay true` (and `noDelay` on the client sockets): small
 *   packets go out at once instead of waiting on Nagle's algorithm.
 * - `sys_interval 0`: no `$SYS` statistics publishing in the background.
 * - `user root`: the harness runs as root, and mosquitto would otherwise
 *   switch to the `mosquitto` user, which cannot write dataDir.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'

import { MqttClient, type IClientOptions } from 'mqtt'

import { type Peer } from './peer'
import { freePort, inBatches, stopChild } from './process'

const MOSQUITTO = '/usr/sbin/mosquitto'
/** Kills the child if this process dies first, even by SIGKILL (util-linux). */
const SETPRIV = '/usr/bin/setpriv'
/** Clients opened at once by start() and openIdle(): the listen backlog is finite. */
const CONNECT_BATCH = 250

const topic = (receiver: number) => `d/${receiver}`

async function waitForPort(port: number, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`mosquitto exited: ${log()}`)
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`mosquitto did not listen within 20 s: ${log()}`)
}

function config(port: number, dataDir: string): string {
  return [
    '# Written by bench/peers/mosquitto.ts; see the comment at its top.',
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'user root',
    'persistence true',
    `persistence_location ${dataDir}/`,
    'persistence_file mosquitto.db',
    'autosave_on_changes true',
    'autosave_interval 1',
    'max_queued_messages 1000000',
    'max_inflight_messages 100',
    'set_tcp_nodelay true',
    'sys_interval 0',
    'max_connections -1',
    `log_dest file ${path.join(dataDir, 'mosquitto.log')}`,
    'log_type error',
    'log_type warning',
    '',
  ].join('\n')
}

interface Receiver {
  client: MqttClient
  onEnvelope: (payload: Uint8Array) => void
  /** Set by disconnect(): later messages are neither handed over nor PUBACKed. */
  closing: boolean
}

class MosquittoPeer implements Peer {
  readonly name = 'mosquitto'
  private port = 0
  private dataDir = ''
  private child: ChildProcess | null = null
  private log = ''
  private senders: MqttClient[] = []
  private receivers = new Map<number, Receiver>()
  private readonly killChild = () => this.child?.kill('SIGKILL')

  async start(devices: number, dataDir: string): Promise<void> {
    this.dataDir = dataDir
    this.port = await freePort()
    await writeFile(path.join(dataDir, 'mosquitto.conf'), config(this.port, dataDir))
    process.on('exit', this.killChild)
    await this.launch()

    // Each receiver's session is made once; the broker keeps it (and its
    // subscription) across disconnects, and queues for it from then on.
    const numbers = Array.from({ length: devices }, (_, n) => n)
    await inBatches(numbers, CONNECT_BATCH, async (n) => {
      const client = await this.open(`r${n}`, false)
      await client.subscribeAsync(topic(n), { qos: 1 })
      await client.endAsync()
    })
    this.senders = new Array<MqttClient>(devices)
    await inBatches(numbers, CONNECT_BATCH, async (n) => {
      this.senders[n] = await this.open(`s${n}`, true)
    })
  }

  serverPids(): number[] {
    return this.child?.pid ? [this.child.pid] : []
  }

  async connect(receiver: number, onEnvelope: (payload: Uint8Array) => void) {
    const entry: Receiver = {
      client: this.client(`r${receiver}`, false),
      onEnvelope,
      closing: false,
    }
    const { client } = entry
    client.on('message', (_topic, payload) => {
      if (!entry.closing) entry.onEnvelope(new Uint8Array(payload))
    })
    // The PUBACK goes out when this calls back; holding it back once the
    // receiver is closing leaves the message queued for its next session.
    client.handleMessage = (_packet, callback) => {
      if (!entry.closing) callback()
    }
    this.receivers.set(receiver, entry)
    const connack = await this.opened(client)
    // A session that did not survive (say, a crash before its snapshot)
    // would lose the subscription: make it again so delivery resumes.
    if (!connack.sessionPresent) await client.subscribeAsync(topic(receiver), { qos: 1 })
  }

  async disconnect(receiver: number): Promise<void> {
    const entry = this.receivers.get(receiver)
    if (!entry) return
    this.receivers.delete(receiver)
    entry.closing = true
    await entry.client.endAsync()
  }

  async send(sender: number, receiver: number, payload: Uint8Array): Promise<void> {
    // The client keeps the buffer until PUBACK: copy, the caller may reuse its own.
    await this.senders[sender].publishAsync(topic(receiver), Buffer.from(payload), {
      qos: 1,
    })
  }

  async crash(): Promise<void> {
    await stopChild(this.child)
    // Every connection died with the broker: drop the clients and open new
    // ones on the restarted broker (receivers back on their sessions).
    const receivers = [...this.receivers]
    await Promise.all(
      [...this.senders, ...receivers.map(([, entry]) => entry.client)].map((client) =>
        client.endAsync(true),
      ),
    )
    this.receivers.clear()
    await this.launch()
    await inBatches([...this.senders.keys()], CONNECT_BATCH, async (n) => {
      this.senders[n] = await this.open(`s${n}`, true)
    })
    await Promise.all(receivers.map(([n, entry]) => this.connect(n, entry.onEnvelope)))
  }

  async openIdle(count: number): Promise<() => Promise<void>> {
    const idle: MqttClient[] = []
    const numbers = Array.from({ length: count }, (_, n) => n)
    await inBatches(numbers, CONNECT_BATCH, async (n) => {
      const client = await this.open(`idle${n}`, true)
      idle.push(client)
      await client.subscribeAsync(`idle/${n}`, { qos: 1 })
    })
    return async () => {
      await inBatches(idle, CONNECT_BATCH * 4, (client) => client.endAsync())
    }
  }

  async stop(): Promise<void> {
    const clients = [
      ...this.senders,
      ...[...this.receivers.values()].map((e) => e.client),
    ]
    await Promise.all(clients.map((client) => client.endAsync(true)))
    this.senders = []
    this.receivers.clear()
    const child = this.child
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    }
    this.child = null
    process.off('exit', this.killChild)
  }

  /** Starts the broker on this peer's port and config, and waits for it to listen. */
  private async launch() {
    const conf = path.join(this.dataDir, 'mosquitto.conf')
    const args = [MOSQUITTO, '-c', conf]
    const [command, ...rest] = existsSync(SETPRIV)
      ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...args]
      : args
    const child = spawn(command, rest, { stdio: ['ignore', 'ignore', 'pipe'] })
    this.log = ''
    child.stderr?.on('data', (chunk: Buffer) => (this.log += chunk.toString()))
    this.child = child
    await waitForPort(this.port, child, () => this.log)
  }

  /** A client that does not reconnect by itself: crash() reopens deliberately. */
  private client(clientId: string, clean: boolean): MqttClient {
    const options: IClientOptions = {
      protocol: 'mqtt',
      host: '127.0.0.1',
      port: this.port,
      protocolVersion: 4,
      clientId,
      clean,
      reconnectPeriod: 0,
      connectTimeout: 60_000,
      keepalive: 60,
    }
    const client = new MqttClient(
      () => net.connect({ host: '127.0.0.1', port: this.port, noDelay: true }),
      options,
    )
    // Errors also reject the pending call that caused them; without a
    // listener an 'error' event would end the process.
    client.on('error', () => {})
    return client
  }

  private async open(clientId: string, clean: boolean): Promise<MqttClient> {
    const client = this.client(clientId, clean)
    await this.opened(client)
    return client
  }

  private opened(client: MqttClient) {
    return new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
      client.once('connect', (connack) => {
        client.off('close', onClose)
        resolve({ sessionPresent: connack.sessionPresent })
      })
      const onClose = () => reject(new Error('MQTT connection closed before CONNACK'))
      client.once('close', onClose)
    })
  }
}

export function mosquittoPeer(): Peer {
  return new MosquittoPeer()
}
