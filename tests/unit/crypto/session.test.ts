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

function pair(): { alice: Party; bob: Party } {
  const alice = newParty()
  const bob = newParty()
  connect(alice, bob)
  return { alice, bob }
}

describe('sessions', () => {
  test('a first message carries the PQXDH header and starts the session on the other side', () => {
    const { alice, bob } = pair()

    const first = send(alice, 'hello bob')
    const text = receive(bob, alice, first)

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

  test('the prekey header stops once the other side has answered', () => {
    const { alice, bob } = pair()
    receive(bob, alice, send(alice, 'one'))
    receive(alice, bob, send(bob, 'two'))

    const third = send(alice, 'three')

    assert.equal(decodeMessage(third).type, 'message')
    assert.equal(receive(bob, alice, third), 'three')
  })

  test('without one-time keys the session falls back to the signed and last-resort keys', () => {
    const alice = newParty()
    const bob = newParty(0)
    connect(alice, bob, false)

    assert.equal(receive(bob, alice, send(alice, 'fallback')), 'fallback')
    assert.equal(receive(alice, bob, send(bob, 'works')), 'works')
  })

  test('a bundle whose signed prekey is not signed by its identity key is refused', () => {
    const alice = newParty()
    const bob = newParty()
    const mallory = newParty()
    const forged = { ...bundleOf(bob), signedPrekey: bundleOf(mallory).signedPrekey }

    assert.throws(
      () => startSession(null, alice.keys.identity, bob.deviceId, forged),
      UntrustedKeyError,
    )
  })

  test('a bundle of another device than the one asked for is refused', () => {
    const alice = newParty()
    const bob = newParty()
    const mallory = newParty()

    assert.throws(
      () => startSession(null, alice.keys.identity, bob.deviceId, bundleOf(mallory)),
      UntrustedKeyError,
    )
  })

  test('a replayed message fails with a duplicate error and changes nothing', () => {
    const { alice, bob } = pair()
    const message = send(alice, 'once')
    receive(bob, alice, message)
    const before = storeAndRestore(bob.record)

    assert.throws(() => receive(bob, alice, message), DuplicateMessageError)
    assert.deepEqual(bob.record, before)
  })

  test('a message too far ahead is rejected', () => {
    const { alice, bob } = pair()
    receive(bob, alice, send(alice, 'first'))
    receive(alice, bob, send(bob, 'answer'))
    const message = send(alice, 'later')
    new DataView(message.buffer, message.byteOffset).setUint32(38, 30_000)

    assert.throws(() => receive(bob, alice, message), MessageOutOfBoundsError)
  })

  test('a first message claiming another device is refused', () => {
    const { alice, bob } = pair()
    const carol = newParty()
    const message = send(alice, 'hi')

    assert.throws(() => receive(bob, carol, message), UntrustedKeyError)
  })

  test('simultaneous starts settle on one session on both sides', () => {
    const alice = newParty()
    const bob = newParty()
    connect(alice, bob)
    connect(bob, alice)

    const fromAlice = send(alice, 'a1')
    const fromBob = send(bob, 'b1')
    assert.equal(receive(bob, alice, fromAlice), 'a1')
    assert.equal(receive(alice, bob, fromBob), 'b1')
    for (let round = 0; round < 3; round++) {
      assert.equal(receive(bob, alice, send(alice, `a${round}`)), `a${round}`)
      assert.equal(receive(alice, bob, send(bob, `b${round}`)), `b${round}`)
    }

    assert.deepEqual(alice.record!.active!.baseKey, bob.record!.active!.baseKey)
  })

  test('old sessions still open delayed messages after a new session starts', () => {
    const { alice, bob } = pair()
    receive(bob, alice, send(alice, 'hello'))
    const delayed = send(alice, 'delayed on the old session')

    // Alice's device loses its session and starts again.
    alice.record = null
    connect(alice, bob)
    receive(bob, alice, send(alice, 'new session'))

    assert.equal(receive(bob, alice, delayed), 'delayed on the old session')
    // Alice's next first message moves Bob back to the session she has.
    assert.equal(receive(bob, alice, send(alice, 'still here')), 'still here')
    assert.equal(receive(alice, bob, send(bob, 'welcome back')), 'welcome back')
  })

  test('starts that cross with an answer in between still settle on one session', () => {
    const alice = newParty()
    const bob = newParty()
    const [low, high] = alice.deviceId < bob.deviceId ? [alice, bob] : [bob, alice]
    connect(low, high)
    connect(high, low)
    const fromLow = send(low, 'first from low')
    const fromHigh = send(high, 'first from high')

    receive(high, low, fromLow)
    receive(low, high, send(high, 'answer on the session low started'))
    receive(low, high, fromHigh)
    for (let round = 0; round < 3; round++) {
      receive(high, low, send(low, `low ${round}`))
      receive(low, high, send(high, `high ${round}`))
    }

    assert.deepEqual(low.record!.active!.baseKey, high.record!.active!.baseKey)
  })

  test('a forged message on an unknown chain with a huge counter is refused, changing nothing', () => {
    const { alice, bob } = pair()
    receive(bob, alice, send(alice, 'hello'))
    for (let i = 0; i < 3; i++) {
      alice.record = null
      connect(alice, bob)
      receive(bob, alice, send(alice, `session ${i}`))
    }
    const ratchetKey = x25519.getPublicKey(x25519.utils.randomSecretKey())
    const header = encodeHeader({ ratchetKey, previousCounter: 24_000, counter: 24_000 })
    const forged = encodeMessage(header, new Uint8Array(64).fill(1))
    const before = storeAndRestore(bob.record)

    assert.throws(
      () => receive(bob, alice, forged),
      (e: Error) => e instanceof DecryptError || e instanceof MessageOutOfBoundsError,
    )
    assert.deepEqual(bob.record, before)
  })

  test('a message whose ratchet key is a low-order point fails as a decryption error', () => {
    const { alice, bob } = pair()
    receive(bob, alice, send(alice, 'hello'))
    const header = encodeHeader({
      ratchetKey: new Uint8Array(32),
      previousCounter: 0,
      counter: 0,
    })

    assert.throws(
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

  test('any delivery order decrypts every message exactly once', () => {
    fc.assert(
      fc.property(conversation, ([senders, order]) => {
        const { alice, bob } = pair()
        // Alice's first message must arrive before Bob can answer.
        receive(bob, alice, send(alice, 'start'))
        const sent = senders.map((fromAlice, i) => {
          const [from] = fromAlice ? [alice] : [bob]
          return { fromAlice, text: `m${i}`, bytes: send(from, `m${i}`) }
        })

        const received: string[] = []
        for (const index of order) {
          const message = sent[index]
          const [from, to] = message.fromAlice ? [alice, bob] : [bob, alice]
          received.push(receive(to, from, message.bytes))
          assert.throws(() => receive(to, from, message.bytes), DuplicateMessageError)
        }
        assert.deepEqual([...received].sort(), sent.map((m) => m.text).sort())
      }),
      { numRuns: 40 },
    )
  })

  test('any single flipped bit in header or body is rejected, and changes nothing', () => {
    const { alice, bob } = pair()
    receive(bob, alice, send(alice, 'start'))
    receive(alice, bob, send(bob, 'answer'))
    const message = send(alice, 'integrity matters')

    fc.assert(
      fc.property(fc.integer({ min: 0, max: message.length * 8 - 1 }), (bit) => {
        const tampered = new Uint8Array(message)
        tampered[bit >> 3] ^= 1 << (bit & 7)
        const before = storeAndRestore(bob.record)

        assert.throws(
          () => receive(bob, alice, tampered),
          (e: Error) =>
            e instanceof DecryptError ||
            e instanceof RangeError ||
            e instanceof MessageOutOfBoundsError,
        )
        assert.deepEqual(bob.record, before)
      }),
      { numRuns: 200 },
    )
    assert.equal(receive(bob, alice, message), 'integrity matters')
  })

  test('forward secrecy: a later state cannot open messages already read', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), (count) => {
        const { alice, bob } = pair()
        const messages = Array.from({ length: count }, (_, i) =>
          send(alice, `secret ${i}`),
        )
        for (const message of messages) receive(bob, alice, message)
        const leaked = storeAndRestore(bob)

        for (const message of messages) {
          assert.throws(() => receive(leaked, alice, message), DuplicateMessageError)
        }
      }),
      { numRuns: 15 },
    )
  })

  test('recovery after compromise: a stolen state stops working once both sides have sent', () => {
    const { alice, bob } = pair()
    receive(bob, alice, send(alice, 'before'))
    // The attacker copies Bob's whole state and follows every message Bob gets.
    const stolen = storeAndRestore(bob)

    receive(alice, bob, send(bob, 'b1'))
    const a2 = send(alice, 'a2')
    receive(bob, alice, a2)
    assert.equal(receive(stolen, alice, a2), 'a2', 'before healing the copy still works')
    receive(alice, bob, send(bob, 'b3 from a fresh ratchet key'))
    const after = send(alice, 'after the ratchet turned')

    assert.equal(receive(bob, alice, after), 'after the ratchet turned')
    assert.throws(() => receive(stolen, alice, after), DecryptError)
  })

  test('a session survives a store-and-restore at every step', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }), (senders) => {
        let { alice, bob } = pair()
        receive(bob, alice, send(alice, 'start'))
        senders.forEach((fromAlice, i) => {
          alice = storeAndRestore(alice)
          bob = storeAndRestore(bob)
          const [from, to] = fromAlice ? [alice, bob] : [bob, alice]
          assert.equal(receive(to, from, send(from, `m${i}`)), `m${i}`)
        })
      }),
      { numRuns: 20 },
    )
  })
})
