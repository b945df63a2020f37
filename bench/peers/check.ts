/**
 * Self-check of the benchmark peers (prints; not part of the test suite):
 *
 *   node --conditions=react-server --import tsx bench/peers/check.ts
 *     [tidings|raw-sse|mosquitto|ejabberd ...] [--devices 20]
 *
 * For each peer: start, 1,000 envelopes to connected receivers, 1,000 more
 * while they are away (then reconnect), 500 queued across a crash, a few
 * after the crash to show the peer still works, 200 idle connections, stop.
 * Every envelope must arrive exactly once, except across the crash, where
 * the count is reported: that is what the benchmark measures, not a bug.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import { ejabberdPeer } from './ejabberd'
import { mosquittoPeer } from './mosquitto'
import { type Peer } from './peer'
import { rawSsePeer } from './raw-sse'
import { tidingsPeer } from './tidings'
import { allReceivers, now, sendAll, Tally, waitForArrivals } from './workload'

const PEERS: Record<string, () => Peer> = {
  tidings: tidingsPeer,
  mosquitto: mosquittoPeer,
  ejabberd: ejabberdPeer,
  'raw-sse': rawSsePeer,
}

const args = process.argv.slice(2)
const devicesFlag = args.indexOf('--devices')
const DEVICES = devicesFlag >= 0 ? Number(args[devicesFlag + 1]) : 20
const names = args.filter(
  (arg, i) => !arg.startsWith('--') && args[i - 1] !== '--devices',
)

async function sendRange(peer: Peer, from: number, to: number) {
  const refused = await sendAll(peer, DEVICES, from, to)
  if (refused > 0) throw new Error(`${refused} sends refused`)
}

async function waitFor(tally: Tally, from: number, to: number, ms: number) {
  await waitForArrivals(tally, from, to, ms)
  return tally.of(from, to)
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = now()
  const result = await work()
  console.log(`  ${label}: ${Math.round(now() - started)} ms`)
  return result
}

async function check(name: string, peer: Peer): Promise<boolean> {
  console.log(`${name} (${DEVICES} devices)`)
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `bench-${name}-`))
  const tally = new Tally()
  const { connectAll, disconnectAll } = allReceivers(peer, DEVICES, tally)
  let ok = true
  const expectAll = (
    label: string,
    result: { arrived: number; duplicated: number },
    n: number,
  ) => {
    const pass = result.arrived === n && result.duplicated === 0
    ok &&= pass
    const verdict = pass ? 'ok' : 'FAIL'
    console.log(
      `  ${label}: ${result.arrived}/${n} arrived, ${result.duplicated} twice: ${verdict}`,
    )
  }
  try {
    await timed('start', () => peer.start(DEVICES, dataDir))
    console.log(`  server pids: ${peer.serverPids().join(' ')}`)
    await timed('connect receivers', connectAll)

    await timed('send 1000 online', () => sendRange(peer, 0, 1000))
    expectAll('online', await waitFor(tally, 0, 1000, 30_000), 1000)

    await timed('disconnect receivers', disconnectAll)
    await timed('send 1000 offline', () => sendRange(peer, 1000, 2000))
    await timed('reconnect', connectAll)
    expectAll('queued', await waitFor(tally, 1000, 2000, 30_000), 1000)

    await disconnectAll()
    await sendRange(peer, 2000, 2500)
    await timed('crash and restart', () => peer.crash())
    console.log(`  server pids after crash: ${peer.serverPids().join(' ')}`)
    await timed('reconnect', connectAll)
    const crashed = await waitFor(tally, 2000, 2500, 5_000)
    console.log(
      `  across the crash: ${crashed.arrived}/500 arrived, ${crashed.duplicated} twice`,
    )

    await sendRange(peer, 2500, 2600)
    expectAll('after crash', await waitFor(tally, 2500, 2600, 30_000), 100)

    const close = await timed('open 200 idle', () => peer.openIdle(200))
    await timed('close idle', close)
    await disconnectAll()
  } catch (error) {
    ok = false
    console.log(
      `  FAIL: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    )
  } finally {
    const pids = peer.serverPids()
    await timed('stop', () => peer.stop())
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    })
    if (alive.length > 0) {
      ok = false
      console.log(`  FAIL: still running after stop: ${alive.join(' ')}`)
    }
    await rm(dataDir, { recursive: true, force: true })
  }
  return ok
}

let failed = false
for (const name of names.length > 0 ? names : Object.keys(PEERS)) {
  const make = PEERS[name]
  if (!make)
    throw new Error(`unknown peer ${name}; one of ${Object.keys(PEERS).join(', ')}`)
  if (!(await check(name, make()))) failed = true
}
process.exit(failed ? 1 : 0)
