/**
 * `npm run bench:relay`: the relay's own figures on this machine (prints;
 * not a test). Against `next build` + `next start` with a fresh SQLite file:
 *   1. latency at a fixed, moderate rate (open loop: sends start on a
 *      schedule, whatever the server does): p50/p99 from the start of the
 *      send request to the envelope parsed off the receiver's stream;
 *   2. N senders → N online receivers over SSE, all sending as fast as they
 *      can (closed loop): envelopes accepted and delivered per second, and
 *      latency under that load (mostly time spent queued);
 *   3. one device reconnects to 10,000 queued envelopes: time to drain.
 * BENCH_PAIRS, BENCH_ENVELOPES and BENCH_RATE change the sizes.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

import { registerDevices, type TestDevice } from '../tests/support/device'
import { startServer } from '../tests/support/server'

const PAIRS = Number(process.env.BENCH_PAIRS ?? 50)
const ENVELOPES = Number(process.env.BENCH_ENVELOPES ?? 5000)
const RATE = Number(process.env.BENCH_RATE ?? 50)
const DRAIN = 10_000
const ENVELOPE_BYTES = 500

const now = () => performance.timeOrigin + performance.now()

/** 500 opaque bytes that start with the time the send began. */
function payload(): Uint8Array {
  const bytes = new Uint8Array(ENVELOPE_BYTES)
  new DataView(bytes.buffer).setFloat64(0, now())
  return bytes
}

function sentAt(content: string): number {
  const bytes = Buffer.from(content, 'base64')
  return bytes.readDoubleBE(0)
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

/** Each sender sends `perSender` envelopes one after another; all senders at once. */
async function sendAll(senders: TestDevice[], targets: TestDevice[], perSender: number) {
  let failures = 0
  await Promise.all(
    senders.map(async (sender, index) => {
      const target = targets[index % targets.length]
      for (let n = 0; n < perSender; n++) {
        const response = await sender.send(target.username, [
          { deviceId: target.deviceId, content: payload() },
        ])
        if (response.status !== 200) failures++
        await response.arrayBuffer()
      }
    }),
  )
  return failures
}

if (!existsSync('.next/BUILD_ID')) {
  spawnSync(process.execPath, ['node_modules/next/dist/bin/next', 'build'], {
    stdio: 'inherit',
  })
}

const server = await startServer({ TRUST_PROXY: '1', LOG_LEVEL: 'warn' })
try {
  const devices = await registerDevices(server.url, 'bench', PAIRS * 2 + 1)
  const senders = devices.slice(0, PAIRS)
  const receivers = devices.slice(PAIRS, PAIRS * 2)
  const drainer = devices[PAIRS * 2]

  const streams = receivers.map((receiver) => receiver.openStream())
  await Promise.all(streams.map((stream) => stream.synced))
  const reset = () => {
    for (const stream of streams) {
      stream.envelopes.length = 0
      stream.arrivals.length = 0
    }
  }
  const latenciesOf = () =>
    streams
      .flatMap((stream) =>
        stream.envelopes.map(
          (envelope, i) => stream.arrivals[i] - sentAt(envelope.content),
        ),
      )
      .sort((a, b) => a - b)

  // Warm-up, not measured.
  await sendAll(senders, receivers, 5)
  await Promise.all(streams.map((stream) => stream.waitFor(5, 30_000)))
  reset()

  // 1. A fixed rate: one send every 1000/RATE ms, round robin over the pairs.
  const paced = RATE * 8
  const pacedStart = now()
  const inFlight: Promise<unknown>[] = []
  for (let n = 0; n < paced; n++) {
    const due = pacedStart + (n * 1000) / RATE
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - now())))
    const pair = n % PAIRS
    inFlight.push(
      senders[pair]
        .send(receivers[pair].username, [
          { deviceId: receivers[pair].deviceId, content: payload() },
        ])
        .then((response) => response.arrayBuffer()),
    )
  }
  await Promise.all(inFlight)
  await Promise.all(
    streams.map((stream, i) =>
      stream.waitFor(Math.floor(paced / PAIRS) + (i < paced % PAIRS ? 1 : 0), 60_000),
    ),
  )
  const pacedLatencies = latenciesOf()
  reset()
  await new Promise((resolve) => setTimeout(resolve, 10_000)) // let send buckets refill

  // 2. As fast as the senders go.
  const perSender = Math.ceil(ENVELOPES / PAIRS)
  const started = now()
  const failures = await sendAll(senders, receivers, perSender)
  const acceptedAt = now()
  await Promise.all(streams.map((stream) => stream.waitFor(perSender, 60_000)))
  const latencies = streams
    .flatMap((stream) =>
      stream.envelopes.map(
        (envelope, i) => stream.arrivals[i] - sentAt(envelope.content),
      ),
    )
    .sort((a, b) => a - b)
  const deliveredAt = Math.max(...streams.flatMap((stream) => stream.arrivals))
  for (const stream of streams) stream.close()

  // 3. One device drains 10,000 queued envelopes.
  await sendAll(senders, [drainer], Math.ceil(DRAIN / senders.length))
  const drainStart = now()
  const drain = drainer.openStream()
  await drain.waitFor(DRAIN, 120_000)
  const drainMs = Math.max(...drain.arrivals) - drainStart
  drain.close()

  const total = senders.length * perSender
  const seconds = (ms: number) => ms / 1000
  console.log(
    `\nTidings relay, ${PAIRS} senders → ${PAIRS} online receivers, ` +
      `${ENVELOPE_BYTES}-byte envelopes, SQLite (WAL, synchronous=FULL)`,
  )
  console.table({
    [`at ${RATE}/s: latency p50 (ms)`]: {
      value: +percentile(pacedLatencies, 50).toFixed(2),
    },
    [`at ${RATE}/s: latency p99 (ms)`]: {
      value: +percentile(pacedLatencies, 99).toFixed(2),
    },
    'flat out: envelopes sent': { value: total },
    'flat out: send failures': { value: failures },
    'flat out: accepted / s': {
      value: Math.round(total / seconds(acceptedAt - started)),
    },
    'flat out: delivered / s': {
      value: Math.round(latencies.length / seconds(deliveredAt - started)),
    },
    'flat out: latency p50 (ms)': { value: +percentile(latencies, 50).toFixed(2) },
    'flat out: latency p99 (ms)': { value: +percentile(latencies, 99).toFixed(2) },
    [`drain ${DRAIN} queued (ms)`]: { value: Math.round(drainMs) },
  })
} finally {
  await server.close()
}
