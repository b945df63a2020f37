import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { ed25519 } from '@noble/curves/ed25519.js'
import fc from 'fast-check'

import { deviceIdFromIdentityKey } from '../../lib/core/device-id'
import { decodeDeviceList, encodeDeviceList } from '../../lib/core/device-list'

const key = (seed: number) => ed25519.getPublicKey(new Uint8Array(32).fill(seed))

describe('device list', () => {
  test('any valid list survives encode and decode unchanged', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.uniqueArray(fc.integer({ min: 1, max: 255 }), { minLength: 1, maxLength: 6 }),
        (version, seeds) => {
          const list = { version, identityKeys: seeds.map(key) }
          assert.deepEqual(decodeDeviceList(encodeDeviceList(list)), list)
        },
      ),
      { numRuns: 50 },
    )
  })

  test('the encoding is fixed: format, version, count, keys', () => {
    const bytes = encodeDeviceList({
      version: 258,
      identityKeys: [new Uint8Array(32).fill(9)],
    })

    assert.equal(Buffer.from(bytes.subarray(0, 6)).toString('hex'), '010000010201')
    assert.equal(bytes.length, 38)
  })

  const hostile: [string, () => unknown, RegExp][] = [
    [
      'version 0',
      () => encodeDeviceList({ version: 0, identityKeys: [key(1)] }),
      /"version"/,
    ],
    ['no devices', () => encodeDeviceList({ version: 1, identityKeys: [] }), /got 0/],
    [
      'seven devices',
      () =>
        encodeDeviceList({ version: 1, identityKeys: [1, 2, 3, 4, 5, 6, 7].map(key) }),
      /got 7/,
    ],
    [
      'a short key',
      () => encodeDeviceList({ version: 1, identityKeys: [new Uint8Array(31)] }),
      /"identityKeys\[0\]" expected length 32, got length=31/,
    ],
    ['unknown format', () => decodeDeviceList(Uint8Array.of(2, 0, 0, 0, 1, 1)), /format/],
    [
      'truncated',
      () =>
        decodeDeviceList(
          encodeDeviceList({ version: 1, identityKeys: [key(1)] }).subarray(0, 37),
        ),
      /length/,
    ],
    [
      'a repeated device',
      () => {
        const one = encodeDeviceList({ version: 1, identityKeys: [key(1), key(2)] })
        one.set(key(1), 38)
        return decodeDeviceList(one)
      },
      /duplicate/,
    ],
  ]
  for (const [title, run, message] of hostile) {
    test(`rejects ${title} with a RangeError`, () => {
      assert.throws(
        run,
        (error: Error) => error instanceof RangeError && message.test(error.message),
      )
    })
  }
})

describe('device id', () => {
  test('is 22 characters of base64url, derived from the key alone', () => {
    const id = deviceIdFromIdentityKey(key(3))

    assert.match(id, /^[A-Za-z0-9_-]{22}$/)
    assert.equal(deviceIdFromIdentityKey(key(3)), id)
    assert.notEqual(deviceIdFromIdentityKey(key(4)), id)
  })

  test('rejects a key of the wrong length naming it', () => {
    assert.throws(() => deviceIdFromIdentityKey(new Uint8Array(33)), {
      name: 'RangeError',
      message: '"identityKey" expected Uint8Array of length 32, got length=33',
    })
  })
})
