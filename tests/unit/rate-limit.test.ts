import assert from 'node:assert/strict'
import { test } from 'node:test'

import { takeToken } from '../../lib/server/http/rate-limit'

const limit = { name: 'unit', burst: 3, perSecond: 1 }

test('a bucket allows its burst, then asks to wait, then refills', () => {
  const start = 1_000_000
  const key = `device-${Math.random()}`

  const burst = [0, 1, 2].map(() => takeToken(limit, key, start))
  const refused = takeToken(limit, key, start)
  const afterOneSecond = takeToken(limit, key, start + 1000)

  assert.deepEqual(burst, [0, 0, 0])
  assert.equal(refused, 1)
  assert.equal(afterOneSecond, 0)
})

test('buckets of different devices do not share tokens', () => {
  const now = 2_000_000
  for (let i = 0; i < 3; i++) takeToken(limit, 'a', now)

  assert.equal(takeToken(limit, 'a', now), 1)
  assert.equal(takeToken(limit, 'b', now), 0)
})
