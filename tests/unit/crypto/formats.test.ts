import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import fc from 'fast-check'

import {
  decodeContent,
  describeContent,
  encodeContent,
  type Content,
} from '../../../lib/core/content'
import {
  createDeviceKeys,
  maintainPrekeys,
  SIGNED_PREKEY_ROTATION_MS,
} from '../../../lib/core/crypto/keys'
import { pad, unpad } from '../../../lib/core/crypto/padding'
import { respond } from '../../../lib/core/crypto/pqxdh'
import { MAX_SKIPPED_KEYS, ratchetEncrypt } from '../../../lib/core/crypto/ratchet'
import { safetyNumber } from '../../../lib/core/crypto/safety-number'
import {
  decodeMessage,
  encodeHeader,
  encodePrekeyMessage,
} from '../../../lib/core/crypto/wire'
import { connect, hex, newParty, receive, send } from './pair'
import { fixedAd, fixedRatchet, fixedResponder } from './vectors'

describe('known answers (fixed keys → fixed bytes)', () => {
  test('a ratchet message from a fixed state', () => {
    const out = ratchetEncrypt(
      fixedRatchet(),
      pad(new TextEncoder().encode('hello')),
      fixedAd,
      encodeHeader,
    )

    assert.equal(
      hex(out.headerBytes),
      '0101ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d590000000700000000',
    )
    assert.equal(
      hex(out.ciphertext),
      'ad9ec578689fb69506c392a09645ff0dac4e4f942b9d15ee664fa44976c06990c436f65674c9ccd42294e0d5' +
        '81747948f0c7e9f3a0770c2c79ca55f2a1fff767ce43328da832d250297bee311a5bb7c7d2f70c7abde007' +
        '5d059c218c17ae2efef1345fb93af7d6c7a92e95807041b23080ee117532323d3b87229dfc7aa429f05adf' +
        '90b657cc69e95527390bc6641afd8bf30738968e2f2c7a4b08194b1ee03009089980623671' +
        '2e0c01a6e2616c8713',
    )
  })

  test('the PQXDH secret of a fixed first message', async () => {
    const { keys, prekey } = fixedResponder()

    const { sharedSecret } = await respond(keys, prekey)

    assert.equal(
      hex(sharedSecret),
      '0e081ee9cbc0172ee82009682df1d0de7b598c0dda67c392222af3310926aa0a',
    )
  })

  test('the safety number of two fixed identities', () => {
    const alice = { identityKey: new Uint8Array(32).fill(11), username: 'alice' }
    const bob = { identityKey: new Uint8Array(32).fill(12), username: 'bob' }

    assert.equal(
      safetyNumber(alice, bob).join(' '),
      '58410 86714 07848 94422 46951 69847 76349 60162 14550 41565 62199 94891',
    )
  })
})

describe('hostile inputs', () => {
  const cases: [string, () => unknown, ErrorConstructor, string | RegExp][] = [
    [
      'a header ratchet key of 31 bytes',
      () =>
        encodeHeader({ ratchetKey: new Uint8Array(31), previousCounter: 0, counter: 0 }),
      RangeError,
      '"ratchetKey" expected Uint8Array of length 32, got length=31',
    ],
    [
      'a message that is a string',
      () => decodeMessage('hello' as unknown as Uint8Array),
      TypeError,
      '"message" expected Uint8Array, got type=string',
    ],
    [
      'an unknown version',
      () => decodeMessage(Uint8Array.of(9, 1)),
      RangeError,
      /unsupported version 9/,
    ],
    [
      'an unknown type',
      () => decodeMessage(new Uint8Array(80).fill(1, 0, 1).fill(7, 1, 2)),
      RangeError,
      /unknown type 7/,
    ],
    [
      'a truncated message',
      () => decodeMessage(Uint8Array.of(1, 1, 0)),
      RangeError,
      /truncated message/,
    ],
    [
      'a truncated prekey message',
      () => decodeMessage(Uint8Array.of(1, 2, 0)),
      RangeError,
      /truncated prekey/,
    ],
    [
      'a prekey message with a short KEM ciphertext',
      () =>
        encodePrekeyMessage(
          {
            identityKey: new Uint8Array(32),
            ephemeralKey: new Uint8Array(32),
            signedPrekeyId: 1,
            kemPrekeyId: 1,
            oneTimePrekeyId: null,
            kemCipherText: new Uint8Array(1000),
          },
          new Uint8Array(60),
        ),
      RangeError,
      '"kemCipherText" expected Uint8Array of length 1088, got length=1000',
    ],
    [
      'padding without its marker',
      () => unpad(new Uint8Array(160)),
      RangeError,
      'unpad: malformed padding',
    ],
    [
      'a safety number over a short key',
      () =>
        safetyNumber(
          { identityKey: new Uint8Array(3), username: 'a' },
          { identityKey: new Uint8Array(32), username: 'b' },
        ),
      RangeError,
      '"ours.identityKey" expected Uint8Array of length 32, got length=3',
    ],
    [
      'content that is not JSON',
      () => decodeContent(Uint8Array.of(0x7b)),
      RangeError,
      'decodeContent: not UTF-8 JSON',
    ],
    [
      'content of an unknown kind',
      () => decodeContent(new TextEncoder().encode('{"kind":"poll"}')),
      RangeError,
      /decodeContent: kind: /,
    ],
  ]
  for (const [title, run, type, message] of cases) {
    test(`rejects ${title}`, () => {
      assert.throws(run, (error: Error) => {
        assert.ok(error instanceof type, `expected ${type.name}, got ${error.name}`)
        if (typeof message === 'string') assert.equal(error.message, message)
        else assert.match(error.message, message)
        return true
      })
    })
  }
})

describe('padding', () => {
  test('pads to multiples of 160 bytes and unpads to the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 1000 }), (plaintext) => {
        const padded = pad(plaintext)
        assert.equal(padded.length % 160, 0)
        assert.ok(padded.length > plaintext.length)
        assert.deepEqual(unpad(padded), plaintext)
      }),
    )
  })
})

describe('ratchet bounds', () => {
  test('at most 2,000 skipped keys are kept per chain; older ones are dropped', async () => {
    const alice = await newParty()
    const bob = await newParty()
    await connect(alice, bob)
    await receive(bob, alice, send(alice, 'start'))
    const skipped = Array.from({ length: MAX_SKIPPED_KEYS + 5 }, (_, i) =>
      send(alice, `s${i}`),
    )
    const last = send(alice, 'last')

    assert.equal(await receive(bob, alice, last), 'last')
    const chain = bob.record!.active!.ratchet.receivers[0]
    assert.equal(chain.skipped.length, MAX_SKIPPED_KEYS)
    assert.equal(
      await receive(bob, alice, skipped[skipped.length - 1]),
      `s${MAX_SKIPPED_KEYS + 4}`,
    )
    await assert.rejects(() => receive(bob, alice, skipped[0]))
  })
})

describe('prekeys', () => {
  test('a device publishes signed keys and 100 one-time keys of each kind', async () => {
    const { keys, upload } = await createDeviceKeys()

    assert.equal(upload.oneTimePrekeys.length, 100)
    assert.equal(upload.oneTimeKemPrekeys.length, 100)
    assert.equal(upload.lastResortKemPrekey.publicKey.length, 1184)
    assert.equal(keys.oneTimePrekeys.length, 100)
    const ids = [
      upload.signedPrekey.keyId,
      upload.lastResortKemPrekey.keyId,
      ...upload.oneTimePrekeys.map((k) => k.keyId),
      ...upload.oneTimeKemPrekeys.map((k) => k.keyId),
    ]
    assert.equal(new Set(ids).size, ids.length, 'key ids never repeat')
  })

  test('signed prekeys rotate after 2 days; old ones stay for late messages', async () => {
    const start = 1_700_000_000_000
    const { keys } = await createDeviceKeys(20, start)

    const early = await maintainPrekeys(
      keys,
      { oneTimePrekeys: 20, oneTimeKemPrekeys: 20 },
      start + 1000,
    )
    const due = await maintainPrekeys(
      keys,
      { oneTimePrekeys: 20, oneTimeKemPrekeys: 20 },
      start + SIGNED_PREKEY_ROTATION_MS,
    )

    assert.equal(early.upload, null)
    assert.ok(due.upload?.signedPrekey)
    assert.ok(due.upload?.lastResortKemPrekey, 'the last-resort ML-KEM key rotates too')
    assert.equal(due.keys.signedPrekeys.length, 2)
    assert.equal(due.keys.lastResortKemPrekeys.length, 2)
  })

  test('one-time keys are replenished when fewer than 10 remain on the server', async () => {
    const { keys } = await createDeviceKeys(20)

    const out = await maintainPrekeys(keys, { oneTimePrekeys: 9, oneTimeKemPrekeys: 40 })

    assert.equal(out.upload?.oneTimePrekeys?.length, 91)
    assert.equal(out.upload?.oneTimeKemPrekeys?.length, 91)
  })
})

describe('safety numbers', () => {
  test('both sides see the same 12 groups of 5 digits; a new key changes them', () => {
    const alice = {
      identityKey: crypto.getRandomValues(new Uint8Array(32)),
      username: 'alice',
    }
    const bob = {
      identityKey: crypto.getRandomValues(new Uint8Array(32)),
      username: 'bob',
    }

    const seenByAlice = safetyNumber(alice, bob)
    const seenByBob = safetyNumber(bob, alice)
    const afterReinstall = safetyNumber(alice, {
      ...bob,
      identityKey: crypto.getRandomValues(new Uint8Array(32)),
    })

    assert.deepEqual(seenByAlice, seenByBob)
    assert.equal(seenByAlice.length, 12)
    assert.ok(seenByAlice.every((group) => /^\d{5}$/.test(group)))
    assert.notDeepEqual(afterReinstall, seenByAlice)
  })
})

describe('content', () => {
  const samples: Content[] = [
    { kind: 'text', id: 'msg-00000001', body: 'hi 👋', sentAt: 1 },
    { kind: 'delivery-receipt', ids: ['msg-00000001'] },
    { kind: 'read-receipt', ids: ['msg-00000001', 'msg-00000002'] },
    {
      kind: 'sent-sync',
      to: 'bob',
      message: { id: 'msg-00000003', body: 'x', sentAt: 2 },
    },
    { kind: 'read-sync', conversation: 'bob', ids: ['msg-00000004'] },
    {
      kind: 'device-link',
      accountSecretKey: 'AAAA',
      username: 'alice',
      deviceListVersion: 2,
    },
    {
      kind: 'history-bundle',
      part: 0,
      parts: 1,
      conversations: [
        {
          with: 'bob',
          messages: [{ id: 'msg-00000005', body: 'old', sentAt: 3, from: 'bob' }],
        },
      ],
    },
  ]
  for (const sample of samples) {
    test(`${sample.kind} survives encoding and has a description`, () => {
      assert.deepEqual(decodeContent(encodeContent(sample)), sample)
      assert.ok(describeContent(sample).length > 0)
    })
  }
})
