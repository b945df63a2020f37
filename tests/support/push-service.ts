/**
 * A Web Push service for tests, standing in for the browser vendor's (which
 * headless Chromium does not reach). It runs on 127.0.0.1 over HTTPS with a
 * self-signed certificate (the relay trusts it through NODE_EXTRA_CA_CERTS)
 * and does what a real one does with a push:
 *   - checks the VAPID authorization (RFC 8292): an ES256 JWT signed by the
 *     key in `k`, `aud` this service's origin, `exp` in the next 24 hours;
 *   - decrypts the aes128gcm body (RFC 8291) with the private key of the
 *     subscription the test made, as the browser would;
 *   - answers 201 and hands the plaintext on (tests deliver it to the
 *     service worker over the DevTools protocol), or answers what a test set
 *     for that subscription (410 for one that expired).
 */
import {
  createECDH,
  createDecipheriv,
  createPublicKey,
  hkdfSync,
  randomBytes,
  randomUUID,
  verify,
} from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { createServer } from 'node:https'
import os from 'node:os'
import path from 'node:path'

import { generate } from 'selfsigned'

/** A subscription as the browser hands it to the page, plus its private key. */
export interface TestSubscription {
  id: string
  endpoint: string
  /** The public key and auth secret, base64url, as `toJSON().keys` gives them. */
  keys: { p256dh: string; auth: string }
}

/** A push the service accepted, decrypted. */
export interface ReceivedPush {
  subscriptionId: string
  /** The decrypted payload. */
  text: string
  /** Bytes of the encrypted body. */
  size: number
  ttl: number
  urgency: string | null
  topic: string | null
  receivedAt: number
}

export interface PushService {
  origin: string
  /** The CA file to give the relay as NODE_EXTRA_CA_CERTS. */
  caFile: string
  /** VAPID keys for the relay; pushes signed by another key are refused. */
  vapid: { publicKey: string; privateKey: string; subject: string }
  subscribe: () => TestSubscription
  /** Called with each accepted push of a subscription. */
  onPush: (subscriptionId: string, deliver: (push: ReceivedPush) => Promise<void>) => void
  /** Answers pushes to this subscription with `status` from now on (e.g. 410). */
  answerWith: (subscriptionId: string, status: number) => void
  received: ReceivedPush[]
  /** Subscription ids of valid pushes answered with an answerWith() status. */
  declined: string[]
  /** Pushes refused, and why: a test expects none. */
  refused: string[]
  close: () => Promise<void>
}

const ONE_DAY_S = 24 * 60 * 60

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url')
}

/** Starts the service; close it when done. */
export async function startPushService(vapid: {
  publicKey: string
  privateKey: string
  subject: string
}): Promise<PushService> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidings-push-'))
  const certificate = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  })
  const caFile = path.join(dir, 'push-ca.pem')
  await writeFile(caFile, certificate.cert)

  const subscriptions = new Map<
    string,
    { ecdh: ReturnType<typeof createECDH>; auth: Buffer; status: number }
  >()
  const deliveries = new Map<string, (push: ReceivedPush) => Promise<void>>()
  const received: ReceivedPush[] = []
  const refused: string[] = []
  const declined: string[] = []
  let origin = ''

  const server = createServer(
    { key: certificate.private, cert: certificate.cert },
    (request, response) => {
      void readBody(request).then((body) => {
        const id = /^\/push\/([\w-]+)$/.exec(request.url ?? '')?.[1] ?? ''
        const subscription = subscriptions.get(id)
        if (request.method !== 'POST' || !subscription) {
          response.writeHead(404).end()
          return
        }
        const problem = checkRequest(request, body, origin, vapid.publicKey)
        if (problem) {
          refused.push(problem)
          response.writeHead(problem.startsWith('vapid') ? 401 : 400).end(problem)
          return
        }
        if (subscription.status !== 201) {
          declined.push(id)
          response.writeHead(subscription.status).end()
          return
        }

        let text: string
        try {
          text = decrypt(body, subscription.ecdh, subscription.auth)
        } catch (error) {
          refused.push(`payload: ${(error as Error).message}`)
          response.writeHead(400).end('payload does not decrypt')
          return
        }
        const push: ReceivedPush = {
          subscriptionId: id,
          text,
          size: body.length,
          ttl: Number(request.headers.ttl),
          urgency: header(request, 'urgency'),
          topic: header(request, 'topic'),
          receivedAt: Date.now(),
        }
        received.push(push)
        response.writeHead(201, { location: `${origin}/message/${randomUUID()}` }).end()
        // Delivered after the answer, as a real push service queues it.
        void deliveries
          .get(id)?.(push)
          .catch((error: unknown) => {
            refused.push(`delivery: ${(error as Error).message}`)
          })
      })
    },
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  origin = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`

  return {
    origin,
    caFile,
    vapid,
    subscribe: () => {
      const id = randomUUID()
      const ecdh = createECDH('prime256v1')
      ecdh.generateKeys()
      const auth = randomBytes(16)
      subscriptions.set(id, { ecdh, auth, status: 201 })
      return {
        id,
        endpoint: `${origin}/push/${id}`,
        keys: { p256dh: base64url(ecdh.getPublicKey()), auth: base64url(auth) },
      }
    },
    onPush: (id, deliver) => deliveries.set(id, deliver),
    answerWith: (id, status) => {
      const subscription = subscriptions.get(id)
      if (subscription) subscription.status = status
    },
    received,
    declined,
    refused,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function header(request: IncomingMessage, name: string): string | null {
  const value = request.headers[name]
  return typeof value === 'string' ? value : null
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** What is wrong with a push request, or null when nothing is. */
function checkRequest(
  request: IncomingMessage,
  body: Buffer,
  origin: string,
  vapidPublicKey: string,
): string | null {
  if (header(request, 'content-encoding') !== 'aes128gcm')
    return 'content-encoding: expected aes128gcm'
  if (!/^\d+$/.test(header(request, 'ttl') ?? '')) return 'ttl: missing'
  if (body.length > 4096) return `body: ${body.length} bytes, more than 4096`

  const match = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(
    header(request, 'authorization') ?? '',
  )
  if (!match) return 'vapid: no "vapid t=…, k=…" authorization'
  const [, token = '', key = ''] = match
  if (key !== vapidPublicKey) return 'vapid: signed by another key than the relay’s'

  const [head = '', claims = '', signature = ''] = token.split('.')
  const publicKey = Buffer.from(key, 'base64url')
  const verified = verify(
    'sha256',
    Buffer.from(`${head}.${claims}`),
    {
      key: createPublicKey({
        key: {
          kty: 'EC',
          crv: 'P-256',
          x: base64url(publicKey.subarray(1, 33)),
          y: base64url(publicKey.subarray(33, 65)),
        },
        format: 'jwk',
      }),
      dsaEncoding: 'ieee-p1363',
    },
    Buffer.from(signature, 'base64url'),
  )
  if (!verified) return 'vapid: the JWT signature does not verify'

  const joseHeader = JSON.parse(Buffer.from(head, 'base64url').toString()) as {
    alg?: string
  }
  const jwt = JSON.parse(Buffer.from(claims, 'base64url').toString()) as {
    aud?: string
    exp?: number
    sub?: string
  }
  const now = Math.floor(Date.now() / 1000)
  if (joseHeader.alg !== 'ES256') return 'vapid: alg is not ES256'
  if (jwt.aud !== origin) return `vapid: aud ${jwt.aud} is not ${origin}`
  if (!jwt.exp || jwt.exp <= now || jwt.exp > now + ONE_DAY_S)
    return 'vapid: exp is not within the next 24 hours'
  if (!/^(mailto:|https:)/.test(jwt.sub ?? ''))
    return 'vapid: sub is not mailto: or https:'
  return null
}

/** RFC 8291 over RFC 8188, one record, as the receiving browser decrypts it. */
function decrypt(
  body: Buffer,
  ecdh: ReturnType<typeof createECDH>,
  authSecret: Buffer,
): string {
  const salt = body.subarray(0, 16)
  const idLength = body[20] ?? 0
  const senderKey = body.subarray(21, 21 + idLength)
  const ciphertext = body.subarray(21 + idLength)
  if (idLength !== 65) throw new Error('keyid is not a P-256 public key')

  const shared = ecdh.computeSecret(senderKey)
  const keyInfo = Buffer.concat([
    Buffer.from('WebPush: info\0'),
    ecdh.getPublicKey(),
    senderKey,
  ])
  const ikm = Buffer.from(hkdfSync('sha256', shared, authSecret, keyInfo, 32))
  const cek = Buffer.from(
    hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16),
  )
  const nonce = Buffer.from(
    hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12),
  )

  const decipher = createDecipheriv('aes-128-gcm', cek, nonce)
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
  const padded = Buffer.concat([
    decipher.update(ciphertext.subarray(0, ciphertext.length - 16)),
    decipher.final(),
  ])
  // The last record ends with the delimiter 2, then zero padding.
  let end = padded.length - 1
  while (end >= 0 && padded[end] === 0) end--
  if (padded[end] !== 2) throw new Error('no last-record delimiter')
  return padded.subarray(0, end).toString('utf8')
}
