import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { registerDevices, type TestDevice } from '../support/device'
import { startServer, type TestServer } from '../support/server'

let server: TestServer
let alice: TestDevice
let bob: TestDevice

before(async () => {
  server = await startServer({ TRUST_PROXY: '1' })
  ;[alice, bob] = await registerDevices(server.url, 'bad', 2)
})
after(() => server.close())

interface Case {
  title: string
  method: string
  path: string
  /** A JSON value, or a raw string sent as it is. */
  body?: unknown
  raw?: string
  contentType?: string
  auth?: boolean
  status: number
  error: { code: string; message: string; field?: string }
}

const b64 = (length: number) => Buffer.alloc(length, 7).toString('base64')

const cases = (): Case[] => [
  {
    title: 'register: not JSON',
    method: 'POST',
    path: '/api/accounts',
    raw: '{"username": ',
    status: 400,
    error: { code: 'invalid-request', message: 'body: expected a JSON document' },
  },
  {
    title: 'register: wrong content type',
    method: 'POST',
    path: '/api/accounts',
    raw: 'username=alice',
    contentType: 'application/x-www-form-urlencoded',
    status: 415,
    error: {
      code: 'unsupported-media-type',
      message: 'body: expected Content-Type application/json',
    },
  },
  {
    title: 'register: username with a space',
    method: 'POST',
    path: '/api/accounts',
    body: { ...alice.registrationBody(), username: 'al ice' },
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'body.username: expected 3 to 32 of a-z, 0-9 and _',
      field: 'username',
    },
  },
  {
    title: 'register: identity key is not base64',
    method: 'POST',
    path: '/api/accounts',
    body: { ...alice.registrationBody(), identityKey: '!!not base64!!' },
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'body.identityKey: expected standard padded base64',
      field: 'identityKey',
    },
  },
  {
    title: 'register: identity key of 31 bytes',
    method: 'POST',
    path: '/api/accounts',
    body: { ...alice.registrationBody(), identityKey: b64(31) },
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'body.identityKey: expected base64 of 32 bytes, got 31 bytes',
      field: 'identityKey',
    },
  },
  {
    title: 'register: an extra field',
    method: 'POST',
    path: '/api/accounts',
    body: { ...alice.registrationBody(), admin: true },
    status: 400,
    error: { code: 'invalid-request', message: 'body: Unrecognized key: "admin"' },
  },
  {
    title: 'register: a device key the account did not sign',
    method: 'POST',
    path: '/api/accounts',
    body: (() => {
      const body = bob.registrationBody()
      body.device.identityKeySignature =
        alice.registrationBody().device.identityKeySignature
      return { ...body, username: 'unsigned_device' }
    })(),
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'body.device.identityKeySignature: does not verify',
      field: 'device.identityKeySignature',
    },
  },
  {
    title: 'challenge: a malformed device id',
    method: 'POST',
    path: '/api/auth/challenge',
    body: { deviceId: 'short' },
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'body.deviceId: expected a device id',
      field: 'deviceId',
    },
  },
  {
    title: 'token: signature missing',
    method: 'POST',
    path: '/api/auth/token',
    body: { challengeId: 'A'.repeat(22) },
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'body.signature: Invalid input: expected string, received undefined',
      field: 'signature',
    },
  },
  {
    title: 'send: without a credential',
    method: 'POST',
    path: '/api/messages',
    body: { to: 'someone', envelopes: [] },
    auth: false,
    status: 401,
    error: {
      code: 'unauthorized',
      message: 'expected an Authorization: Bearer credential',
    },
  },
  {
    title: 'send: no envelopes',
    method: 'POST',
    path: '/api/messages',
    body: { to: 'someone', envelopes: [] },
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'body.envelopes: Too small: expected array to have >=1 items',
      field: 'envelopes',
    },
  },
  {
    title: 'send: envelope over 96 KiB',
    method: 'POST',
    path: '/api/messages',
    body: {
      to: 'someone',
      envelopes: [{ deviceId: 'A'.repeat(22), content: b64(96 * 1024 + 1) }],
    },
    status: 400,
    error: {
      code: 'invalid-request',
      message:
        'body.envelopes.0.content: expected base64 of 1 to 98304 bytes, got a longer text',
      field: 'envelopes.0.content',
    },
  },
  {
    title: 'send: content is a number',
    method: 'POST',
    path: '/api/messages',
    body: { to: 'someone', envelopes: [{ deviceId: 'A'.repeat(22), content: 5 }] },
    status: 400,
    error: {
      code: 'invalid-request',
      message:
        'body.envelopes.0.content: Invalid input: expected string, received number',
      field: 'envelopes.0.content',
    },
  },
  {
    title: 'send: unknown recipient',
    method: 'POST',
    path: '/api/messages',
    body: {
      to: 'nobody_here',
      envelopes: [{ deviceId: 'A'.repeat(22), content: b64(4) }],
    },
    status: 404,
    error: {
      code: 'not-found',
      message: 'body.to: no account named "nobody_here"',
      field: 'to',
    },
  },
  {
    title: 'send: body over the size cap',
    method: 'POST',
    path: '/api/messages',
    raw: JSON.stringify({ to: 'x', pad: 'x'.repeat(2_000_000) }),
    status: 413,
    error: { code: 'payload-too-large', message: 'body: larger than 1700000 bytes' },
  },
  {
    title: 'ack: sequence numbers are strings',
    method: 'POST',
    path: '/api/envelopes/ack',
    body: { seqs: ['1'] },
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'body.seqs.0: Invalid input: expected number, received string',
      field: 'seqs.0',
    },
  },
  {
    title: 'queue: a negative cursor',
    method: 'GET',
    path: '/api/envelopes?after=-1',
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'query.after: Too small: expected number to be >=0',
      field: 'after',
    },
  },
  {
    title: 'keys: more than 100 one-time prekeys',
    method: 'PUT',
    path: '/api/keys',
    body: {
      oneTimePrekeys: Array.from({ length: 101 }, (_, keyId) => ({
        keyId,
        publicKey: b64(32),
      })),
    },
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'body.oneTimePrekeys: Too big: expected array to have <=100 items',
      field: 'oneTimePrekeys',
    },
  },
  {
    title: 'bundles: a bad username in the path',
    method: 'GET',
    path: '/api/accounts/NO!/bundles',
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'username: expected 3 to 32 of a-z, 0-9 and _',
      field: 'username',
    },
  },
  {
    title: 'bundles: a device that is not on the account',
    method: 'GET',
    path: '/api/accounts/__BOB__/bundles?devices=AAAAAAAAAAAAAAAAAAAAAA',
    status: 404,
    error: {
      code: 'not-found',
      message: 'query.devices: a device is not on this account',
      field: 'devices',
    },
  },
  {
    title: 'stream: a Last-Event-ID that is not a number',
    method: 'GET',
    path: '/api/stream',
    raw: undefined,
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'Last-Event-ID: expected a sequence number',
    },
  },
  {
    title: 'link result: a malformed link id',
    method: 'GET',
    path: '/api/links/not-a-link/result',
    auth: false,
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'linkId: expected a link id',
      field: 'linkId',
    },
  },
  {
    title: 'link result: an unknown link',
    method: 'GET',
    path: '/api/links/AAAAAAAAAAAA/result',
    auth: false,
    status: 404,
    error: { code: 'not-found', message: 'link: unknown or expired code' },
  },
  {
    title: 'unlink: a device of another account',
    method: 'DELETE',
    path: '/api/devices/__BOB_DEVICE__',
    body: { deviceList: { bytes: b64(38), signature: b64(64) } },
    status: 404,
    error: { code: 'not-found', message: 'deviceId: no such device on this account' },
  },
  {
    title: 'unlink: no device list',
    method: 'DELETE',
    path: '/api/devices/__BOB_DEVICE__',
    body: {},
    status: 400,
    error: {
      code: 'invalid-request',
      message: 'body.deviceList: Invalid input: expected object, received undefined',
      field: 'deviceList',
    },
  },
  {
    title: 'an unknown API route',
    method: 'GET',
    path: '/api/nothing-here',
    status: 404,
    error: { code: 'not-found', message: '/api/nothing-here: no such API route' },
  },
]

describe('bad input gets a 4xx naming what was wrong, and changes nothing', () => {
  test('every case in the table', async (t) => {
    const before = await counts()

    for (const c of cases()) {
      await t.test(c.title, async () => {
        const headers: Record<string, string> = {}
        if (c.body !== undefined || c.raw !== undefined) {
          headers['content-type'] = c.contentType ?? 'application/json'
        }
        if (c.auth !== false) headers.authorization = `Bearer ${alice.token}`
        if (c.title.startsWith('stream:')) headers['last-event-id'] = 'abc'
        headers['x-forwarded-for'] = '203.0.113.9'

        const response = await fetch(
          `${server.url}${c.path
            .replace('__BOB_DEVICE__', bob.deviceId)
            .replace('__BOB__', bob.username)}`,
          {
            method: c.method,
            headers,
            body: c.raw ?? (c.body === undefined ? undefined : JSON.stringify(c.body)),
          },
        )

        assert.equal(response.status, c.status)
        assert.deepEqual(await response.json(), { error: c.error })
      })
    }

    assert.deepEqual(await counts(), before)
  })
})

/** What bad requests must never change: accounts, keys, queues. */
async function counts() {
  const count = (table: string) => server.count(`SELECT COUNT(*) AS n FROM "${table}"`)
  return {
    accounts: await count('Account'),
    devices: await count('Device'),
    prekeys: await count('OneTimePrekey'),
    envelopes: await count('Envelope'),
    links: await count('Link'),
  }
}
