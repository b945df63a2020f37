/**
 * The XMPP peer for the store-and-forward benchmark: Debian's ejabberd 23.01
 * as a private Erlang node (a child process), driven by `@xmpp/client`.
 *
 * Store and forward is XMPP's offline storage: receiver n is the account
 * `r<n>@localhost`, sender n is `s<n>@localhost`; a `<message type='chat'>`
 * to a receiver with no session goes to mod_offline (Mnesia), which hands it
 * over when the receiver next sends its initial presence. Acks are XEP-0198
 * stream management: a send is accepted when the server's `<a h=…/>` counts
 * it (the client asks with `<r/>` right after each burst of sends, not the
 * library's default 250 ms later); a receiver answers the server's `<r/>`
 * requests, which the server sends one at a time, so acks batch themselves.
 *
 * How the node runs (config written to dataDir/ejabberd.yml):
 * - `erl -s ejabberd` directly, not `ejabberdctl`: ejabberdctl switches to
 *   the `ejabberd` user, which cannot write dataDir, and needs Erlang
 *   distribution. Without a node name the node has no distribution, so no
 *   epmd runs and the one server process is beam.smp. Mnesia lives in
 *   dataDir/spool, the log in dataDir/log.
 * - c2s on 127.0.0.1 only, no TLS (`starttls_required: false`), SASL PLAIN
 *   against plain stored passwords: TLS and SCRAM would measure hashing and
 *   encryption, not store and forward.
 * - Accounts are made by in-band registration (mod_register), many per
 *   connection, since `ejabberdctl register` costs one Erlang VM per call;
 *   `registration_timeout: infinity` lifts the one-per-10-minutes-per-IP rule.
 * - `mod_offline` with `access_max_user_messages` 1,000,000 (the default is
 *   100); `mod_stream_mgmt` with `max_ack_queue: infinity` (the default 5000
 *   would cut a receiver draining a 20,000 backlog) and
 *   `resend_on_timeout: if_offline`, so what a closing receiver has not
 *   acknowledged goes back to offline storage instead of bouncing; no
 *   resumption (`resume_timeout: 0`): a receiver logs in afresh each time.
 * - `max_fsm_queue` 1,000,000: offline delivery puts the whole backlog in
 *   the session's mailbox at once; the default 10,000 would kill it.
 * - `backlog: 4096` on the listener: the default (5) drops the SYNs of
 *   connections opened together, and each then waits a retransmit (1 s, 3 s…).
 * - No other modules (no roster, MAM, carbons, disco, pings).
 * - Idle connections log in with SASL ANONYMOUS on a second host,
 *   `anon.localhost`: 10,000 registered accounts would take most of the
 *   setup time, and an anonymous session costs the server what a logged-in
 *   idle one does (a c2s process and a session entry).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'

// @ts-expect-error -- @xmpp/client ships no type declarations; see XmppApi.
import * as xmppModule from '@xmpp/client'

import { type Peer } from './peer'
import { freePort, inBatches, stopChild } from './process'

/** The part of @xmpp/client this file uses. */
interface Element {
  name: string
  attrs: Record<string, string>
  is(name: string, xmlns?: string): boolean
  getChildText(name: string): string | null
}
interface StreamManagement {
  requestAckDebounce: number
  requestAckInterval: number
  on(event: 'ack' | 'fail', listener: (stanza: Element) => void): void
}
interface XmppClient {
  status: string
  socket: net.Socket | null
  reconnect: { stop(): void }
  streamManagement: StreamManagement
  start(): Promise<unknown>
  stop(): Promise<unknown>
  send(element: Element): Promise<void>
  on(event: 'stanza', listener: (stanza: Element) => void): void
  on(event: 'status', listener: (status: string) => void): void
  on(event: 'error', listener: (error: Error) => void): void
  on(event: 'nonza', listener: (element: Element) => void): void
}
type Authenticate = (credentials: object, mechanism: string) => Promise<void>
interface XmppApi {
  client: (options: {
    service: string
    domain: string
    resource?: string
    timeout?: number
    credentials?: (authenticate: Authenticate, mechanisms: string[]) => Promise<void>
  }) => XmppClient
  xml: (
    name: string,
    attrs?: Record<string, string>,
    ...children: (Element | string)[]
  ) => Element
}
const { client: xmppClient, xml } = xmppModule as XmppApi

const ERL = '/usr/bin/erl'
/** Where Debian keeps ejabberd's Erlang applications. */
const ERL_LIBS = '/usr/lib/x86_64-linux-gnu'
/** Kills the child if this process dies first, even by SIGKILL (util-linux). */
const SETPRIV = '/usr/bin/setpriv'
const DOMAIN = 'localhost'
const ANON_DOMAIN = 'anon.localhost'
const PASSWORD = 'bench-password'
/** XEP-0198 stream management. */
const SM = 'urn:xmpp:sm:3'
/** Registrations sent down one connection before reading the answers. */
const REGISTER_PER_CONNECTION = 50
/** Logins at once: each is several round trips and a new Erlang process. */
const LOGIN_BATCH = 100

function config(port: number, dataDir: string): string {
  return `# Written by bench/peers/ejabberd.ts; see the comment at its top.
hosts:
  - ${DOMAIN}
  - ${ANON_DOMAIN}
loglevel: warning
log_rotate_count: 0
default_db: mnesia
auth_method: [internal]
auth_password_format: plain
registration_timeout: infinity
max_fsm_queue: 1000000
host_config:
  ${ANON_DOMAIN}:
    auth_method: [anonymous]
    anonymous_protocol: sasl_anon
listen:
  - port: ${port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: false
    max_fsm_queue: 1000000
    backlog: 4096
access_rules:
  register:
    allow: all
shaper_rules:
  max_offline: 1000000
modules:
  mod_offline:
    access_max_user_messages: max_offline
  mod_stream_mgmt:
    max_ack_queue: infinity
    resend_on_timeout: if_offline
    resume_timeout: 0
  mod_register:
    access: register
    ip_access: register
    password_strength: 0
    welcome_message: {}
# Mnesia is in ${path.join(dataDir, 'spool')}
`
}

/** Makes accounts by in-band registration (XEP-0077), `count` per stream. */
async function register(port: number, usernames: string[]): Promise<void> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
  let received = ''
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString()
      const failed = /<iq[^>]*type='error'[^>]*>.*?<\/iq>/.exec(received)
      if (failed) reject(new Error(`registration failed: ${failed[0]}`))
      const results = received.match(/type='result'/g)?.length ?? 0
      if (results === usernames.length) resolve()
    })
    socket.on('error', reject)
    socket.on('close', () => reject(new Error('registration stream closed early')))
  })
  socket.write(
    `<?xml version='1.0'?><stream:stream to='${DOMAIN}' xmlns='jabber:client' ` +
      `xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
  )
  for (const [i, username] of usernames.entries()) {
    socket.write(
      `<iq type='set' id='reg${i}'><query xmlns='jabber:iq:register'>` +
        `<username>${username}</username><password>${PASSWORD}</password></query></iq>`,
    )
  }
  try {
    await done
  } finally {
    socket.destroy()
  }
}

/**
 * Closes a client's stream, but gives up on a server that does not answer
 * within `ms` (killed, or still busy) and drops the socket instead.
 */
async function close(xmpp: XmppClient, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([
    xmpp.stop().catch(() => {}),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ])
  clearTimeout(timer)
  xmpp.socket?.destroy()
}

/**
 * Logs in and resolves once stream management is on. The library reports
 * the session online before the server has answered `<enable/>`, and
 * stanzas sent in between would never be acknowledged.
 */
async function start(xmpp: XmppClient): Promise<void> {
  const enabled = new Promise<void>((resolve, reject) => {
    xmpp.on('nonza', (element) => {
      if (element.is('enabled', SM)) resolve()
      if (element.is('failed', SM)) reject(new Error('stream management refused'))
    })
  })
  await xmpp.start()
  await enabled
}

interface Sender {
  xmpp: XmppClient
  /** Sends waiting for the server's ack, by the stanza the library queued. */
  pending: Map<Element, { resolve: () => void; reject: (error: Error) => void }>
}

interface Receiver {
  xmpp: XmppClient
  onEnvelope: (payload: Uint8Array) => void
  /** Set by disconnect(): what arrives after the final ack is left to the server. */
  closing: boolean
}

class EjabberdPeer implements Peer {
  readonly name = 'ejabberd'
  private port = 0
  private dataDir = ''
  private child: ChildProcess | null = null
  private log = ''
  private senders: Sender[] = []
  private receivers = new Map<number, Receiver>()
  private readonly killChild = () => this.child?.kill('SIGKILL')

  async start(devices: number, dataDir: string): Promise<void> {
    this.dataDir = dataDir
    this.port = await freePort()
    await mkdir(path.join(dataDir, 'spool'), { recursive: true })
    await mkdir(path.join(dataDir, 'log'), { recursive: true })
    await writeFile(path.join(dataDir, 'ejabberd.yml'), config(this.port, dataDir))
    process.on('exit', this.killChild)
    await this.launch()

    const usernames = Array.from({ length: devices }, (_, n) => [`r${n}`, `s${n}`]).flat()
    const chunks: string[][] = []
    for (let i = 0; i < usernames.length; i += REGISTER_PER_CONNECTION) {
      chunks.push(usernames.slice(i, i + REGISTER_PER_CONNECTION))
    }
    await Promise.all(chunks.map((chunk) => register(this.port, chunk)))
    // Mnesia writes its log a second or two behind (see crash()): a clean
    // restart closes it, so the accounts outlive the first SIGKILL.
    await this.halt()
    await this.launch()
    await this.openSenders(devices)
  }

  serverPids(): number[] {
    return this.child?.pid ? [this.child.pid] : []
  }

  async connect(receiver: number, onEnvelope: (payload: Uint8Array) => void) {
    const xmpp = this.client(DOMAIN, `r${receiver}`)
    const entry: Receiver = { xmpp, onEnvelope, closing: false }
    xmpp.on('stanza', (stanza) => {
      if (entry.closing || !stanza.is('message')) return
      const body = stanza.getChildText('body')
      if (body) entry.onEnvelope(new Uint8Array(Buffer.from(body, 'base64')))
    })
    this.receivers.set(receiver, entry)
    await start(xmpp)
    // Initial presence makes the session available: mod_offline hands over
    // the backlog and live messages come straight here from then on. Its
    // ack means the server has handled it; before that, messages to the
    // receiver would still go to offline storage.
    const presence = xml('presence')
    const handled = new Promise<void>((resolve, reject) => {
      xmpp.streamManagement.on('ack', (stanza) => stanza === presence && resolve())
      xmpp.streamManagement.on('fail', (stanza) => {
        if (stanza === presence) reject(new Error('XMPP stream closed before presence'))
      })
    })
    await xmpp.send(presence)
    await handled
  }

  async disconnect(receiver: number): Promise<void> {
    const entry = this.receivers.get(receiver)
    if (!entry) return
    this.receivers.delete(receiver)
    // Closing sends a last <a h=…/> covering exactly what was handed over
    // (no I/O runs between this flag and that ack); the server puts what
    // it sent after it back into offline storage.
    entry.closing = true
    await close(entry.xmpp, 10_000)
  }

  send(sender: number, receiver: number, payload: Uint8Array): Promise<void> {
    const { xmpp, pending } = this.senders[sender]
    const body = Buffer.from(payload).toString('base64')
    const message = xml(
      'message',
      { to: `r${receiver}@${DOMAIN}`, type: 'chat' },
      xml('body', {}, body),
    )
    return new Promise<void>((resolve, reject) => {
      pending.set(message, { resolve, reject })
      xmpp.send(message).catch((error: Error) => {
        pending.delete(message)
        reject(error)
      })
    })
  }

  async crash(): Promise<void> {
    await stopChild(this.child)
    const receivers = [...this.receivers]
    this.receivers.clear()
    await Promise.all(
      [...this.senders.map((s) => s.xmpp), ...receivers.map(([, r]) => r.xmpp)].map(
        (xmpp) => close(xmpp, 2_000),
      ),
    )
    await this.launch()
    await this.openSenders(this.senders.length)
    await Promise.all(receivers.map(([n, entry]) => this.connect(n, entry.onEnvelope)))
  }

  async openIdle(count: number): Promise<() => Promise<void>> {
    const idle: XmppClient[] = []
    const numbers = Array.from({ length: count }, (_, n) => n)
    await inBatches(numbers, LOGIN_BATCH, async () => {
      const xmpp = this.client(ANON_DOMAIN)
      idle.push(xmpp)
      await start(xmpp)
      await xmpp.send(xml('presence'))
    })
    return async () => {
      await inBatches(idle, LOGIN_BATCH * 5, async (xmpp) => {
        await close(xmpp, 2_000)
      })
    }
  }

  async stop(): Promise<void> {
    const clients = [
      ...this.senders.map((s) => s.xmpp),
      ...[...this.receivers.values()].map((r) => r.xmpp),
    ]
    await Promise.all(clients.map((xmpp) => close(xmpp, 2_000)))
    this.senders = []
    this.receivers.clear()
    await this.halt()
    process.off('exit', this.killChild)
  }

  /** Stops the node cleanly: SIGTERM is init:stop(), and Mnesia closes its files. */
  private async halt() {
    const child = this.child
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      await exited
      clearTimeout(timer)
    }
    this.child = null
  }

  /** Starts the node on this peer's dataDir and waits for c2s to listen. */
  private async launch() {
    const args = [
      ERL,
      '-noinput',
      // Kernel poll, and room for 10,000+ sessions (one process each, and more).
      '+K',
      'true',
      '+P',
      '1000000',
      '-mnesia',
      'dir',
      JSON.stringify(path.join(this.dataDir, 'spool')),
      '-s',
      'ejabberd',
    ]
    const [command, ...rest] = existsSync(SETPRIV)
      ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...args]
      : args
    const child = spawn(command, rest, {
      cwd: this.dataDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        EJABBERD_CONFIG_PATH: path.join(this.dataDir, 'ejabberd.yml'),
        EJABBERD_LOG_PATH: path.join(this.dataDir, 'log', 'ejabberd.log'),
        ERL_LIBS,
        ERL_CRASH_DUMP_BYTES: '0',
        ERL_MAX_PORTS: '65536',
      },
    })
    this.log = ''
    const collect = (chunk: Buffer) =>
      (this.log = (this.log + chunk.toString()).slice(-4000))
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    this.child = child
    await this.waitUntilUp(child)
  }

  /** Up means a stream can be opened, not just a port: modules start first. */
  private async waitUntilUp(child: ChildProcess) {
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`ejabberd exited: ${this.log}`)
      }
      const up = await new Promise<boolean>((resolve) => {
        const socket = net.connect(this.port, '127.0.0.1')
        socket.once('connect', () => {
          socket.write(
            `<?xml version='1.0'?><stream:stream to='${DOMAIN}' xmlns='jabber:client' ` +
              `xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
          )
        })
        socket.once('data', (chunk: Buffer) => {
          socket.destroy()
          resolve(chunk.toString().includes('<stream:stream'))
        })
        socket.once('error', () => resolve(false))
        socket.once('close', () => resolve(false))
      })
      if (up) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`ejabberd did not start within 60 s: ${this.log}`)
  }

  private async openSenders(devices: number) {
    this.senders = new Array<Sender>(devices)
    const numbers = Array.from({ length: devices }, (_, n) => n)
    await inBatches(numbers, LOGIN_BATCH, async (n) => {
      const xmpp = this.client(DOMAIN, `s${n}`)
      const pending: Sender['pending'] = new Map()
      xmpp.streamManagement.on('ack', (stanza) => {
        pending.get(stanza)?.resolve()
        pending.delete(stanza)
      })
      xmpp.streamManagement.on('fail', (stanza) => {
        pending.get(stanza)?.reject(new Error('XMPP stream closed before the ack'))
        pending.delete(stanza)
      })
      this.senders[n] = { xmpp, pending }
      await start(xmpp)
    })
  }

  /** A client that does not reconnect by itself: crash() reopens deliberately. */
  private client(domain: string, username?: string): XmppClient {
    const xmpp = xmppClient({
      service: `xmpp://127.0.0.1:${this.port}`,
      domain,
      resource: 'bench',
      // Logins queue behind each other while thousands open at once.
      timeout: 60_000,
      // Without TLS the library would pick SCRAM-SHA-1; PLAIN is the choice here.
      credentials: username
        ? (authenticate) => authenticate({ username, password: PASSWORD }, 'PLAIN')
        : (authenticate) => authenticate({}, 'ANONYMOUS'),
    })
    xmpp.reconnect.stop()
    // Errors also reject the call that caused them; an 'error' event with
    // no listener would end the process.
    xmpp.on('error', () => {})
    xmpp.on('status', (status) => {
      if (status === 'connect') xmpp.socket?.setNoDelay(true)
    })
    // Ask for the ack as soon as a burst of sends is written.
    xmpp.streamManagement.requestAckDebounce = 0
    return xmpp
  }
}

export function ejabberdPeer(): Peer {
  return new EjabberdPeer()
}
