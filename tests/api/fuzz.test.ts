/**
 * Malformed requests, generated: every API route gets wrong types, missing
 * and extra fields, huge strings, bad base64, invalid signatures, wrong
 * content types, truncated bodies and junk in paths, queries and
 * credentials. No answer may be a 5xx, the server must stay up, and a
 * refused request must leave everything stored as it was.
 *
 * FUZZ_RUNS sets the number of requests (default 10,000).
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'

import fc from 'fast-check'

import { toBase64 } from '../../lib/core/bytes'
import { registerDevices, TestDevice } from '../support/device'
import { startServer, type TestServer } from '../support/server'

const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000)

let server: TestServer
let devices: TestDevice[]
let linkId = ''

before(async () => {
  server = await startServer({ TRUST_PROXY: '1' })
  devices = await registerDevices(server.url, 'fuzz', 8)
  const opened = await devices[0].request('POST', '/api/links', {})
  linkId = ((await opened.json()) as { linkId: string }).linkId
  // Something in the queues, so acknowledgements and reads have targets.
  for (const [index, device] of devices.entries()) {
    const next = devices[(index + 1) % devices.length]
    await device.send(next.username, [
      { deviceId: next.deviceId, content: randomBytes(40) },
    ])
  }
})
after(() => server.close())

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** One route, and a well-formed body to mutate (when it takes one). */
interface Route {
  method: string
  /** Path with `:user`, `:device`, `:link` where a parameter goes. */
  path: string
  auth: boolean
  body?: () => Json
}

const b64 = (size: number) => toBase64(randomBytes(size))

const ROUTES: Route[] = [
  { method: 'GET', path: '/api/health', auth: false },
  {
    method: 'POST',
    path: '/api/accounts',
    auth: false,
    body: () => new TestDevice('', 'fuzz_newcomer').registrationBody(2),
  },
  {
    method: 'POST',
    path: '/api/auth/challenge',
    auth: false,
    body: () => ({ deviceId: devices[1].deviceId }),
  },
  {
    method: 'POST',
    path: '/api/auth/token',
    auth: false,
    body: () => ({ challengeId: 'A'.repeat(22), signature: b64(64) }),
  },
  { method: 'GET', path: '/api/accounts/:user', auth: true },
  { method: 'GET', path: '/api/accounts/:user/bundles', auth: true },
  { method: 'GET', path: '/api/accounts/:user/presence', auth: true },
  { method: 'GET', path: '/api/devices/:device', auth: true },
  {
    method: 'DELETE',
    path: '/api/devices/:device',
    auth: true,
    body: () => ({ deviceList: { bytes: b64(40), signature: b64(64) } }),
  },
  { method: 'POST', path: '/api/links', auth: true, body: () => ({}) },
  { method: 'GET', path: '/api/links/:link', auth: true },
  {
    method: 'POST',
    path: '/api/links/:link/request',
    auth: false,
    body: () => new TestDevice('', 'fuzz_link').linkRequest(),
  },
  {
    method: 'POST',
    path: '/api/links/:link/approve',
    auth: true,
    body: () => ({
      identityKeySignature: b64(64),
      deviceList: { bytes: b64(72), signature: b64(64) },
      ephemeralKey: b64(32),
      sealed: b64(200),
    }),
  },
  { method: 'GET', path: '/api/links/:link/result', auth: false },
  { method: 'GET', path: '/api/keys', auth: true },
  {
    method: 'PUT',
    path: '/api/keys',
    auth: true,
    body: () => devices[2].oneTimeKeys(2, 900),
  },
  {
    method: 'POST',
    path: '/api/messages',
    auth: true,
    body: () => ({
      to: devices[3].username,
      envelopes: [{ deviceId: devices[3].deviceId, content: b64(50) }],
    }),
  },
  { method: 'GET', path: '/api/envelopes', auth: true },
  { method: 'POST', path: '/api/envelopes/ack', auth: true, body: () => ({ seqs: [1] }) },
  { method: 'GET', path: '/api/push', auth: false },
  {
    method: 'PUT',
    path: '/api/push',
    auth: true,
    body: () => ({
      endpoint: 'https://push.invalid/x',
      keys: {
        p256dh: Buffer.from([4, ...randomBytes(64)]).toString('base64url'),
        auth: randomBytes(16).toString('base64url'),
      },
    }),
  },
  { method: 'DELETE', path: '/api/push', auth: true },
  { method: 'GET', path: '/api/stream', auth: true },
  { method: 'GET', path: '/api/no/such/route', auth: false },
]

/** Paths to every leaf of a JSON value. */
function leaves(value: Json, at: (string | number)[] = []): (string | number)[][] {
  if (value && typeof value === 'object') {
    const entries = Array.isArray(value)
      ? value.map((item, index) => [index, item] as const)
      : Object.entries(value)
    const inner = entries.flatMap(([key, item]) => leaves(item, [...at, key]))
    return inner.length > 0 ? inner : [at]
  }
  return [at]
}

/** A copy of `value` with the thing at `path` replaced (or deleted, for undefined). */
function replaced(value: Json, path: (string | number)[], next: Json | undefined): Json {
  if (path.length === 0) return next ?? null
  const copy = structuredClone(value) as Record<string | number, Json>
  let parent = copy
  for (const key of path.slice(0, -1))
    parent = parent[key] as Record<string | number, Json>
  const last = path[path.length - 1]
  if (next === undefined) delete parent[last]
  else parent[last] = next
  return copy
}

const junkText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom('', ' ', '..', '%00', '%2F..%2F', '../../etc/passwd', '\u0000', '😀'),
  fc.integer({ min: 1_000, max: 300_000 }).map((size) => 'A'.repeat(size)),
)

/** A value that is wrong where it lands: wrong type, bad base64, wrong size, huge. */
const badLeaf: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue() as fc.Arbitrary<Json>,
  junkText,
  fc.constantFrom('@@@@', '====', 'AAA', 'not base64!', 'AAAA====AAAA'),
  fc.integer({ min: 0, max: 200 }).map((size) => b64(size)),
  fc.constant(b64(64)), // a well-formed signature over nothing in particular
  fc.integer({ min: -1e12, max: 1e12 }),
  fc.constantFrom(null, true, false, [], {}),
)

interface Attempt {
  route: Route
  path: string
  headers: Record<string, string>
  body: string | undefined
}

const attempt: fc.Arbitrary<Attempt> = fc
  .record({
    routeIndex: fc.nat({ max: ROUTES.length - 1 }),
    userParam: fc.oneof(fc.constant('valid'), junkText),
    deviceParam: fc.oneof(fc.constant('valid'), junkText),
    linkParam: fc.oneof(fc.constant('valid'), junkText),
    query: fc.oneof(
      fc.constant(''),
      fc
        .dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }), {
          maxKeys: 3,
        })
        .map((entries) => `?${new URLSearchParams(entries).toString()}`),
      fc.constantFrom(
        '?after=-1',
        '?limit=0',
        '?limit=1e9',
        '?devices=,,,',
        '?after=abc',
      ),
    ),
    // Mostly a valid credential, so requests get past authentication.
    credential: fc.oneof(
      { arbitrary: fc.constant('own'), weight: 6 },
      { arbitrary: fc.constantFrom('none', 'garbage', 'another-scheme'), weight: 1 },
    ),
    deviceIndex: fc.nat({ max: 7 }),
    mutation: fc.constantFrom(
      'leaf',
      'drop',
      'extra',
      'whole',
      'truncate',
      'type',
      'none',
    ),
    leafIndex: fc.nat(),
    leaf: badLeaf,
    extraKey: fc.string({ minLength: 1, maxLength: 20 }),
    whole: fc.jsonValue(),
    cut: fc.double({ min: 0, max: 1, noNaN: true }),
    contentType: fc.constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '',
      'application/json; charset=latin1',
    ),
    address: fc.ipV4(),
  })
  .map((choice): Attempt => {
    const route = ROUTES[choice.routeIndex]
    const device = devices[choice.deviceIndex]
    const param = (given: string, valid: string) =>
      encodeURIComponent(given === 'valid' ? valid : given)
    const path =
      route.path
        .replace(':user', param(choice.userParam, devices[4].username))
        .replace(':device', param(choice.deviceParam, devices[5].deviceId))
        .replace(':link', param(choice.linkParam, linkId)) + choice.query

    const headers: Record<string, string> = { 'x-forwarded-for': choice.address }
    if (choice.credential === 'own') headers.authorization = `Bearer ${device.token}`
    if (choice.credential === 'garbage') headers.authorization = `Bearer ${b64(24)}`
    if (choice.credential === 'another-scheme') headers.authorization = `Basic ${b64(12)}`

    let body: string | undefined
    const template = route.body?.()
    const takesBody = route.method !== 'GET'
    if (takesBody && (template !== undefined || choice.mutation === 'whole')) {
      let value: Json = template ?? {}
      const paths = leaves(value)
      const target = paths[choice.leafIndex % paths.length]
      if (choice.mutation === 'leaf') value = replaced(value, target, choice.leaf)
      if (choice.mutation === 'drop') value = replaced(value, target, undefined)
      if (choice.mutation === 'extra' && value && typeof value === 'object') {
        value = { ...(value as object), [choice.extraKey]: choice.leaf }
      }
      if (choice.mutation === 'whole') value = choice.whole as Json
      body = JSON.stringify(value)
      if (choice.mutation === 'truncate') {
        body = body.slice(0, Math.floor(body.length * choice.cut))
      }
      headers['content-type'] =
        choice.mutation === 'type' ? choice.contentType : 'application/json'
      if (!headers['content-type']) delete headers['content-type']
    }
    return { route, path, headers, body }
  })

/**
 * A digest of everything stored that a request could change. Challenges
 * (made by accepted requests, swept on expiry) and last-seen times (moved
 * by connections) are left out.
 */
async function storedDigest(): Promise<string> {
  const hash = createHash('sha256')
  const tables: [string, string][] = [
    ['Account', '"id"'],
    ['Device', '"id"'],
    ['OneTimePrekey', '"id"'],
    ['Credential', '"tokenHash"'],
    ['Envelope', '"recipientDeviceId", "seq"'],
    ['Link', '"id"'],
    ['PushSubscription', '"deviceId"'],
  ]
  for (const [table, order] of tables) {
    for (const row of await server.query(`SELECT * FROM "${table}" ORDER BY ${order}`)) {
      const kept = { ...row }
      delete kept.lastSeenAt
      hash.update(
        JSON.stringify(kept, (_key, value: unknown) =>
          typeof value === 'bigint'
            ? value.toString()
            : value instanceof Uint8Array
              ? Buffer.from(value).toString('base64')
              : value,
        ),
      )
    }
  }
  return hash.digest('base64')
}

describe('fuzzing every API route', () => {
  test(`${RUNS} malformed requests: no 5xx, server up, refusals change nothing`, async () => {
    const statuses = new Map<number, number>()
    const perRoute = new Map<string, number>()
    // The digest is read again only when something was committed.
    let stored = await storedDigest()
    let storedVersion = await server.storeVersion()

    await fc.assert(
      fc.asyncProperty(attempt, async ({ route, path, headers, body }) => {
        const response = await fetch(`${server.url}${path}`, {
          method: route.method,
          headers,
          body,
          signal: AbortSignal.timeout(10_000),
        })
        // An accepted stream stays open: its status is all we need.
        if (path.startsWith('/api/stream')) await response.body?.cancel()
        else await response.arrayBuffer()

        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
        const key = `${route.method} ${route.path}`
        perRoute.set(key, (perRoute.get(key) ?? 0) + 1)
        assert.ok(response.status < 500, `${route.method} ${path}: ${response.status}`)

        const version = await server.storeVersion()
        if (version === storedVersion) return
        storedVersion = version
        const now = await storedDigest()
        if (response.status >= 400) {
          assert.equal(
            now,
            stored,
            `${route.method} ${path} ${response.status} changed the store`,
          )
        }
        stored = now
      }),
      { numRuns: RUNS },
    )

    const health = await fetch(`${server.url}/api/health`)
    assert.equal(health.status, 200)
    assert.doesNotMatch(server.output(), /"level":50/)
    assert.equal(perRoute.size, ROUTES.length)
    const summary = [...statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, n]) => `${status}×${n}`)
      .join(' ')
    console.log(`fuzz: ${RUNS} requests over ${perRoute.size} routes: ${summary}`)
  })
})
