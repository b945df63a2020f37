/**
 * Two instances of one deployment: two server programs (what `npm start`
 * runs, Next.js inside) on different ports sharing a throwaway PostgreSQL
 * and Redis, no sticky sessions. Alice talks to instance 1, Bob to
 * instance 2; then instance 2 dies under Bob.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { applyMigrations } from '../../lib/server/db/migrate'
import { registerDevices, type TestDevice } from '../support/device'
import { startPostgres, type TestPostgres } from '../support/postgres'
import { startRedis, type TestRedis } from '../support/redis'
import { startServer, type TestServer } from '../support/server'

let postgres: TestPostgres
let redis: TestRedis
let one: TestServer
let two: TestServer

before(async () => {
  postgres = await startPostgres()
  redis = await startRedis()
  await applyMigrations(postgres.url)
  const env = { TRUST_PROXY: '1', REDIS_URL: redis.url }
  one = await startServer(env, { databaseUrl: postgres.url })
  two = await startServer(env, { databaseUrl: postgres.url })
})

after(async () => {
  await one?.close()
  await two?.close()
  await redis?.stop()
  await postgres?.stop()
})

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (base64: string) => Buffer.from(base64, 'base64').toString()

/** Alice registered through instance 1, Bob through instance 2. */
async function pair(prefix: string): Promise<[TestDevice, TestDevice]> {
  const [alice] = await registerDevices(one.url, `${prefix}a`, 1)
  const [bob] = await registerDevices(two.url, `${prefix}b`, 1)
  return [alice, bob]
}

async function sendText(from: TestDevice, to: TestDevice, content: string) {
  const response = await from.send(to.username, [
    { deviceId: to.deviceId, content: bytes(content) },
  ])
  assert.equal(response.status, 200, await response.clone().text())
  return (await response.json()) as { envelopes: { seq: number }[] }
}

async function presence(of: TestDevice, asking: TestDevice): Promise<boolean> {
  const response = await asking.request('GET', `/api/accounts/${of.username}/presence`)
  assert.equal(response.status, 200)
  return ((await response.json()) as { online: boolean }).online
}

describe('two instances sharing PostgreSQL and Redis', () => {
  test('a stream on instance 2 gets at once what is sent through instance 1', async () => {
    const [alice, bob] = await pair('live')
    const stream = bob.openStream()
    await stream.synced

    // Presence is shared: instance 1 knows Bob's stream on instance 2.
    assert.equal(await presence(bob, alice), true)
    const started = performance.now()
    await sendText(alice, bob, 'across instances')
    const [envelope] = await stream.waitFor(1, 5_000)
    const elapsed = performance.now() - started
    stream.close()

    assert.equal(text(envelope.content), 'across instances')
    assert.equal(envelope.senderDeviceId, alice.deviceId)
    console.log(`instance 1 → stream on instance 2: ${elapsed.toFixed(1)} ms`)
  })

  test('offline queue and receipts cross instances both ways', async () => {
    const [alice, bob] = await pair('queue')
    const aliceStream = alice.openStream()
    await aliceStream.synced

    // Bob is offline: the message waits in the shared store.
    assert.equal(await presence(bob, alice), false)
    const receipt = await sendText(alice, bob, 'while you were away')
    assert.equal(receipt.envelopes[0]?.seq, 1)

    const bobStream = bob.openStream()
    const [queued] = await bobStream.waitFor(1, 5_000)
    assert.equal(text(queued.content), 'while you were away')

    // Bob's delivery receipt goes through instance 2 to Alice's stream on 1.
    await sendText(bob, alice, 'receipt: delivered 1')
    const [back] = await aliceStream.waitFor(1, 5_000)
    assert.equal(text(back.content), 'receipt: delivered 1')
    assert.equal(await bob.ack([queued.seq]), 1)

    bobStream.close()
    aliceStream.close()
    const again = bob.openStream()
    await again.synced
    again.close()
    assert.deepEqual(again.envelopes, [], 'acknowledged on instance 2: gone for good')
  })

  test('instance 2 killed under Bob: he reconnects through instance 1, nothing lost', async () => {
    const [alice, bob] = await pair('fail')
    const stream = bob.openStream()
    await stream.synced
    for (const n of [1, 2, 3]) await sendText(alice, bob, `before ${n}`)
    await stream.waitFor(3, 5_000)

    await two.kill('SIGKILL')
    await stream.ended
    // Sent while Bob has no stream anywhere.
    for (const n of [4, 5, 6]) await sendText(alice, bob, `after ${n}`)

    bob.baseUrl = one.url
    const resumed = bob.openStream(stream.lastEventId())
    await resumed.synced
    await sendText(alice, bob, 'live 7')
    await resumed.waitFor(4, 5_000)
    resumed.close()

    const received = [...stream.envelopes, ...resumed.envelopes].map((e) =>
      text(e.content),
    )
    assert.deepEqual(received, [
      'before 1',
      'before 2',
      'before 3',
      'after 4',
      'after 5',
      'after 6',
      'live 7',
    ])
  })
})
