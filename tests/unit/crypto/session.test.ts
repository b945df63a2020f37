import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { x25519 } from '@noble/curves/ed25519.js'
import fc from 'fast-check'

import {
  DecryptError,
  DuplicateMessageError,
  MessageOutOfBoundsError,
  UntrustedKeyError,
} from '../../../lib/core/crypto/errors'
import { startSession } from '../../../lib/core/crypto/session'
import { decodeMessage, encodeHeader, encodeMessage } from '../../../lib/core/crypto/wire'
import {
  bundleOf,
  connect,
  newParty,
  receive,
  send,
  storeAndRestore,
  type Party,
} from './pair'

async function pair(): Promise<{ alice: Party; bob: Party }> {
  const alice = await newParty()
  const bob = await newParty()
  await connect(alice, bob)
  return { alice, bob }
}

describe('sessions', () => {
  test('a first message carries the PQXDH header and starts the other side', async () => {
    const { alice, bob } = await pair()

    const first = send(alice, 'hello bob')
    const text = await receive(bob, alice, first)

    assert.equal(decodeMessage(first).type, 'prekey')
    assert.equal(text, 'hello bob')
    assert.equal(
      bob.keys.oneTimePrekeys.length,
      1,
      'the used one-time X25519 key is deleted',
    )
    assert.equal(
      bob.keys.oneTimeKemPrekeys.length,
      1,
      'the used one-time ML-KEM key is deleted',
    )
  })

  test('the prekey header stops once the other side has answered', async () => {
    const { alice, bob } = await pair()
    await receive(bob, alice, send(alice, 'one'))
    await receive(alice, bob, send(bob, 'two'))

    const third = send(alice, 'three')

    assert.equal(decodeMessage(third).type, 'message')
    assert.equal(await receive(bob, alice, third), 'three')
  })

  test('without one-time keys a session uses the signed and last-resort keys', async () => {
    const alice = await newParty()
    const bob = await newParty(0)
    await connect(alice, bob, false)

    assert.equal(await receive(bob, alice, send(alice, 'fallback')), 'fallback')
    assert.equal(await receive(alice, bob, send(bob, 'works')), 'works')
  })

  test('a bundle whose signed prekey is not signed by its identity key is refused', async () => {
    const alice = await newParty()
    const bob = await newParty()
    const mallory = await newParty()
    const forged = { ...bundleOf(bob), signedPrekey: bundleOf(mallory).signedPrekey }

    await assert.rejects(
      () => startSession(null, alice.keys.identity, bob.deviceId, forged),
      UntrustedKeyError,
    )
  })

  test('a bundle of another device than the one asked for is refused', async () => {
    const alice = await newParty()
    const bob = await newParty()
    const mallory = await newParty()

    await assert.rejects(
      () => startSession(null, alice.keys.identity, bob.deviceId, bundleOf(mallory)),
      UntrustedKeyError,
    )
  })

  test('a replayed message fails with a duplicate error and changes nothing', async () => {
    const { alice, bob } = await pair()
    const message = send(alice, 'once')
    await receive(bob, alice, message)
    const before = storeAndRestore(bob.record)

    await assert.rejects(() => receive(bob, alice, message), DuplicateMessageError)
    assert.deepEqual(bob.record, before)
  })

  test('a message too far ahead is rejected', async () => {
    const { alice, bob } = await pair()
    await receive(bob, alice, send(alice, 'first'))
    await receive(alice, bob, send(bob, 'answer'))
    const message = send(alice, 'later')
    new DataView(message.buffer, message.byteOffset).setUint32(38, 30_000)

    await assert.rejects(() => receive(bob, alice, message), MessageOutOfBoundsError)
  })

  test('a first message claiming another device is refused', async () => {
    const { alice, bob } = await pair()
    const carol = await newParty()
    const message = send(alice, 'hi')

    await assert.rejects(() => receive(bob, carol, message), UntrustedKeyError)
  })

  test('simultaneous starts settle on one session on both sides', async () => {
    const alice = await newParty()
    const bob = await newParty()
    await connect(alice, bob)
    await connect(bob, alice)

    const fromAlice = send(alice, 'a1')
    const fromBob = send(bob, 'b1')
    assert.equal(await receive(bob, alice, fromAlice), 'a1')
    assert.equal(await receive(alice, bob, fromBob), 'b1')
    for (let round = 0; round < 3; round++) {
      assert.equal(await receive(bob, alice, send(alice, `a${round}`)), `a${round}`)
      assert.equal(await receive(alice, bob, send(bob, `b${round}`)), `b${round}`)
    }

    assert.deepEqual(alice.record!.active!.baseKey, bob.record!.active!.baseKey)
  })

  test('old sessions still open delayed messages after a new session starts', async () => {
    const { alice, bob } = await pair()
    await receive(bob, alice, send(alice, 'hello'))
    const delayed = send(alice, 'delayed on the old session')

    // Alice's device loses its session and starts again.
    alice.record = null
    await connect(alice, bob)
    await receive(bob, alice, send(alice, 'new session'))

    assert.equal(await receive(bob, alice, delayed), 'delayed on the old session')
    // Alice's next first message moves Bob back to the session she has.
    assert.equal(await receive(bob, alice, send(alice, 'still here')), 'still here')
    assert.equal(await receive(alice, bob, send(bob, 'welcome back')), 'welcome back')
  })

  test('starts that cross with an answer in between still settle on one session', async () => {
    const alice = await newParty()
    const bob = await newParty()
    const [low, high] = alice.deviceId < bob.deviceId ? [alice, bob] : [bob, alice]
    await connect(low, high)
    await connect(high, low)
    const fromLow = send(low, 'first from low')
    const fromHigh = send(high, 'first from high')

    await receive(high, low, fromLow)
    await receive(low, high, send(high, 'answer on the session low started'))
    await receive(low, high, fromHigh)
    for (let round = 0; round < 3; round++) {
      await receive(high, low, send(low, `low ${round}`))
      await receive(low, high, send(high, `high ${round}`))
    }

    assert.deepEqual(low.record!.active!.baseKey, high.record!.active!.baseKey)
  })

  test('a forged huge counter on a new chain is refused, changing nothing', async () => {
    const { alice, bob } = await pair()
    await receive(bob, alice, send(alice, 'hello'))
    for (let i = 0; i < 3; i++) {
      alice.record = null
      await connect(alice, bob)
      await receive(bob, alice, send(alice, `session ${i}`))
    }
    const ratchetKey = x25519.getPublicKey(x25519.utils.randomSecretKey())
    const header = encodeHeader({ ratchetKey, previousCounter: 24_000, counter: 24_000 })
    const forged = encodeMessage(header, new Uint8Array(64).fill(1))
    const before = storeAndRestore(bob.record)

    await assert.rejects(
      () => receive(bob, alice, forged),
      (e: Error) => e instanceof DecryptError || e instanceof MessageOutOfBoundsError,
    )
    assert.deepEqual(bob.record, before)
  })

  test('a message whose ratchet key is a low-order point fails as a decryption error', async () => {
    const { alice, bob } = await pair()
    await receive(bob, alice, send(alice, 'hello'))
    const header = encodeHeader({
      ratchetKey: new Uint8Array(32),
      previousCounter: 0,
      counter: 0,
    })

    await assert.rejects(
      () => receive(bob, alice, encodeMessage(header, new Uint8Array(64))),
      DecryptError,
    )
  })
})

describe('properties', () => {
  /** A conversation: who sends each message, then a delivery order per direction. */
  const conversation = fc
    .array(fc.boolean(), { minLength: 1, maxLength: 24 })
    .chain((senders) =>
      fc.tuple(
        fc.constant(senders),
        fc.shuffledSubarray(
          senders.map((_, i) => i),
          { minLength: senders.length, maxLength: senders.length },
        ),
      ),
    )

  test('any delivery order decrypts every message exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(conversation, async ([senders, order]) => {
        const { alice, bob } = await pair()
        // Alice's first message must arrive before Bob can answer.
        await receive(bob, alice, send(alice, 'start'))
        const sent = senders.map((fromAlice, i) => {
          const [from] = fromAlice ? [alice] : [bob]
          return { fromAlice, text: `m${i}`, bytes: send(from, `m${i}`) }
        })

        const received: string[] = []
        for (const index of order) {
          const message = sent[index]
          const [from, to] = message.fromAlice ? [alice, bob] : [bob, alice]
          received.push(await receive(to, from, message.bytes))
          await assert.rejects(
            () => receive(to, from, message.bytes),
            DuplicateMessageError,
          )
        }
        assert.deepEqual([...received].sort(), sent.map((m) => m.text).sort())
      }),
      { numRuns: 40 },
    )
  })

  test('any single flipped bit in header or body is rejected, and changes nothing', async () => {
    const { alice, bob } = await pair()
    await receive(bob, alice, send(alice, 'start'))
    await receive(alice, bob, send(bob, 'answer'))
    const message = send(alice, 'integrity matters')

    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: message.length * 8 - 1 }),
        async (bit) => {
          const tampered = new Uint8Array(message)
          tampered[bit >> 3] ^= 1 << (bit & 7)
          const before = storeAndRestore(bob.record)

          await assert.rejects(
            () => receive(bob, alice, tampered),
            (e: Error) =>
              e instanceof DecryptError ||
              e instanceof RangeError ||
              e instanceof MessageOutOfBoundsError,
          )
          assert.deepEqual(bob.record, before)
        },
      ),
      { numRuns: 200 },
    )
    assert.equal(await receive(bob, alice, message), 'integrity matters')
  })

  test('forward secrecy: a later state cannot open messages already read', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 12 }), async (count) => {
        const { alice, bob } = await pair()
        const messages = Array.from({ length: count }, (_, i) =>
          send(alice, `secret ${i}`),
        )
        for (const message of messages) await receive(bob, alice, message)
        const leaked = storeAndRestore(bob)

        for (const message of messages) {
          await assert.rejects(
            () => receive(leaked, alice, message),
            DuplicateMessageError,
          )
        }
      }),
      { numRuns: 15 },
    )
  })

  test('post-compromise: a stolen state stops working once both sides have sent', async () => {
    const { alice, bob } = await pair()
    await receive(bob, alice, send(alice, 'before'))
    // The attacker copies Bob's whole state and follows every message Bob gets.
    const stolen = storeAndRestore(bob)

    await receive(alice, bob, send(bob, 'b1'))
    const a2 = send(alice, 'a2')
    await receive(bob, alice, a2)
    assert.equal(
      await receive(stolen, alice, a2),
      'a2',
      'before healing the copy still works',
    )
    await receive(alice, bob, send(bob, 'b3 from a fresh ratchet key'))
    const after = send(alice, 'after the ratchet turned')

    assert.equal(await receive(bob, alice, after), 'after the ratchet turned')
    await assert.rejects(() => receive(stolen, alice, after), DecryptError)
  })

  test('a session survives a store-and-restore at every step', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
        async (senders) => {
          let { alice, bob } = await pair()
          await receive(bob, alice, send(alice, 'start'))
          for (const [i, fromAlice] of senders.entries()) {
            alice = storeAndRestore(alice)
            bob = storeAndRestore(bob)
            const [from, to] = fromAlice ? [alice, bob] : [bob, alice]
            assert.equal(await receive(to, from, send(from, `m${i}`)), `m${i}`)
          }
        },
      ),
      { numRuns: 20 },
    )
  })
})
