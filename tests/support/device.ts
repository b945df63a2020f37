/**
 * A device as the tests and benchmarks drive it: real Ed25519 and ML-KEM
 * keys, real signatures, the JSON API over fetch and the SSE stream parsed
 * with eventsource-parser. It stands in for the browser client on the wire.
 */
import { randomBytes } from 'node:crypto'

import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import { createParser } from 'eventsource-parser'

import type { WireEnvelope } from '../../lib/core/api'
import { fromBase64, toBase64 } from '../../lib/core/bytes'
import { deviceIdFromIdentityKey } from '../../lib/core/device-id'
import { signDeviceKey, signDeviceList } from '../../lib/core/crypto/keys'
import { authStatement, prekeyStatement } from '../../lib/core/statements'

let nextAddress = Math.floor(Math.random() * 60_000)

/**
 * One ML-KEM-768 public key, signed afresh by each device: the relay only
 * stores and hands out KEM keys, and sharing one keeps registering a hundred
 * devices for the benchmark fast (key generation costs about 1 ms).
 */
const SAMPLE_KEM_KEY = ml_kem768.keygen().publicKey

export interface StreamHandle {
  /** Envelopes received so far, in arrival order. */
  envelopes: WireEnvelope[]
  /** When each envelope was parsed (ms since the epoch, sub-ms precision). */
  arrivals: number[]
  /** Event names in arrival order (envelopes, synced, prekeys-low). */
  events: string[]
  /** The Last-Event-ID the server sent last. */
  lastEventId: () => string | undefined
  /** Resolves when `count` envelopes have arrived (rejects after `ms`). */
  waitFor: (count: number, ms?: number) => Promise<WireEnvelope[]>
  /** Resolves when the backlog has been delivered. */
  synced: Promise<void>
  close: () => void
  /** Resolves when the stream ends (server gone or closed). */
  ended: Promise<void>
}

/** A registered device with its account keys, able to log in, send and receive. */
export class TestDevice {
  readonly accountSecret = ed25519.utils.randomSecretKey()
  readonly accountKey = ed25519.getPublicKey(this.accountSecret)
  readonly identitySecret = ed25519.utils.randomSecretKey()
  readonly identityKey = ed25519.getPublicKey(this.identitySecret)
  readonly deviceId = deviceIdFromIdentityKey(this.identityKey)
  token = ''
  /** Distinct per device, so per-address limits (TRUST_PROXY=1) see separate clients. */
  // A documentation-range address in a header only; nothing connects to it.
  readonly address = `198.51.${(nextAddress >> 8) & 255}.${nextAddress++ & 255}`

  constructor(
    /** The instance this device talks to; a test may move it to another. */
    public baseUrl: string,
    readonly username: string,
  ) {}

  /** The registration body with every signature made properly. */
  registrationBody(oneTimeCount = 20, firstKeyId = 1) {
    const sign = (message: Uint8Array) =>
      toBase64(ed25519.sign(message, this.identitySecret))
    const signedPrekey = x25519.getPublicKey(x25519.utils.randomSecretKey())
    const account = { secretKey: this.accountSecret, publicKey: this.accountKey }
    const list = signDeviceList(account, 1, [this.identityKey])

    return {
      username: this.username,
      identityKey: toBase64(this.accountKey),
      deviceList: { bytes: toBase64(list.bytes), signature: toBase64(list.signature) },
      device: {
        name: 'Test device',
        identityKey: toBase64(this.identityKey),
        identityKeySignature: toBase64(signDeviceKey(account, this.identityKey)),
        signedPrekey: {
          keyId: 1,
          publicKey: toBase64(signedPrekey),
          signature: sign(prekeyStatement('x25519', signedPrekey)),
        },
        lastResortKemPrekey: {
          keyId: 1,
          publicKey: toBase64(SAMPLE_KEM_KEY),
          signature: sign(prekeyStatement('mlkem768', SAMPLE_KEM_KEY)),
        },
        ...this.oneTimeKeys(oneTimeCount, firstKeyId),
      },
    }
  }

  /**
   * The request this device posts to join an account through a link: its
   * keys, an ephemeral key and a proof (random: only the approving device
   * can check a proof, never the relay).
   */
  linkRequest() {
    const { device } = this.registrationBody(5)
    return {
      name: device.name,
      identityKey: device.identityKey,
      signedPrekey: device.signedPrekey,
      lastResortKemPrekey: device.lastResortKemPrekey,
      oneTimePrekeys: device.oneTimePrekeys,
      oneTimeKemPrekeys: device.oneTimeKemPrekeys,
      ephemeralKey: toBase64(randomBytes(32)),
      proof: toBase64(randomBytes(32)),
    }
  }

  /** One-time X25519 and signed ML-KEM prekeys with ids from `firstKeyId`. */
  oneTimeKeys(count: number, firstKeyId = 1) {
    const ids = Array.from({ length: count }, (_, index) => firstKeyId + index)
    return {
      oneTimePrekeys: ids.map((keyId) => ({
        keyId,
        publicKey: toBase64(x25519.getPublicKey(x25519.utils.randomSecretKey())),
      })),
      oneTimeKemPrekeys: ids.map((keyId) => ({
        keyId,
        publicKey: toBase64(SAMPLE_KEM_KEY),
        signature: toBase64(
          ed25519.sign(prekeyStatement('mlkem768', SAMPLE_KEM_KEY), this.identitySecret),
        ),
      })),
    }
  }

  /** Registers and logs in. */
  async register(oneTimeCount = 20, headers: Record<string, string> = {}): Promise<this> {
    const response = await this.request(
      'POST',
      '/api/accounts',
      this.registrationBody(oneTimeCount),
      headers,
    )
    if (response.status !== 201) {
      throw new Error(
        `register ${this.username}: ${response.status} ${await response.text()}`,
      )
    }
    await this.login()
    return this
  }

  /** Proves possession of the identity key and stores the credential. */
  async login(): Promise<void> {
    const challenge = await this.request('POST', '/api/auth/challenge', {
      deviceId: this.deviceId,
    })
    if (!challenge.ok) {
      throw new Error(`challenge: ${challenge.status} ${await challenge.text()}`)
    }
    const { challengeId, nonce } = (await challenge.json()) as {
      challengeId: string
      nonce: string
    }
    const signature = ed25519.sign(
      authStatement(this.deviceId, fromBase64(nonce)),
      this.identitySecret,
    )
    const response = await this.request('POST', '/api/auth/token', {
      challengeId,
      signature: toBase64(signature),
    })
    if (!response.ok)
      throw new Error(`login: ${response.status} ${await response.text()}`)
    this.token = ((await response.json()) as { token: string }).token
  }

  /** A request with this device's credential (when it has one). */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        'x-forwarded-for': this.address,
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  }

  /** Sends opaque bytes to the given devices of `to`. */
  send(
    to: string,
    envelopes: { deviceId: string; content: Uint8Array }[],
  ): Promise<Response> {
    return this.request('POST', '/api/messages', {
      to,
      envelopes: envelopes.map(({ deviceId, content }) => ({
        deviceId,
        content: toBase64(content),
      })),
    })
  }

  /** Acknowledges envelopes by sequence number. */
  async ack(seqs: number[]): Promise<number> {
    const response = await this.request('POST', '/api/envelopes/ack', { seqs })
    if (!response.ok) throw new Error(`ack: ${response.status} ${await response.text()}`)
    return ((await response.json()) as { deleted: number }).deleted
  }

  /** Opens the SSE stream, optionally resuming after `lastEventId`. */
  openStream(lastEventId?: string): StreamHandle {
    const controller = new AbortController()
    const envelopes: WireEnvelope[] = []
    const arrivals: number[] = []
    const events: string[] = []
    const waiters: (() => void)[] = []
    let lastId: string | undefined
    let markSynced = () => {}
    const synced = new Promise<void>((resolve) => (markSynced = resolve))

    const parser = createParser({
      onEvent: (event) => {
        events.push(event.event ?? 'message')
        if (event.id) lastId = event.id
        if (event.event === 'envelopes') {
          const batch = JSON.parse(event.data) as WireEnvelope[]
          const now = performance.timeOrigin + performance.now()
          envelopes.push(...batch)
          arrivals.push(...batch.map(() => now))
          for (const wake of waiters.splice(0)) wake()
        }
        if (event.event === 'synced') markSynced()
      },
    })

    const ended = (async () => {
      try {
        const response = await fetch(`${this.baseUrl}/api/stream`, {
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
          },
          signal: controller.signal,
        })
        if (!response.ok || !response.body) {
          throw new Error(`stream: ${response.status} ${await response.text()}`)
        }
        const decoder = new TextDecoder()
        const reader = response.body.getReader()
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          parser.feed(decoder.decode(value, { stream: true }))
        }
      } catch (error) {
        if (!controller.signal.aborted && !(error instanceof TypeError)) throw error
      } finally {
        for (const wake of waiters.splice(0)) wake()
      }
    })()

    const waitFor = async (count: number, ms = 10_000) => {
      const deadline = Date.now() + ms
      while (envelopes.length < count) {
        if (Date.now() > deadline) {
          throw new Error(
            `stream: ${envelopes.length} of ${count} envelopes after ${ms} ms`,
          )
        }
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 50)
        })
      }
      return envelopes
    }

    return {
      envelopes,
      arrivals,
      events,
      lastEventId: () => lastId,
      waitFor,
      synced,
      close: () => controller.abort(),
      ended,
    }
  }
}

/** Registers `count` fresh devices on separate accounts with unique names. */
export async function registerDevices(
  baseUrl: string,
  prefix: string,
  count: number,
): Promise<TestDevice[]> {
  const stamp = Math.random().toString(36).slice(2, 8)
  const devices: TestDevice[] = []
  for (let index = 0; index < count; index++) {
    const device = new TestDevice(baseUrl, `${prefix}_${stamp}_${index}`.slice(0, 32))
    await device.register(20)
    devices.push(device)
  }
  return devices
}
