/**
 * `npm run bench`: the same store-and-forward workload through Tidings'
 * relay and the systems a user would otherwise pick, one after another in
 * one run, then one table (prints; not a test):
 *
 *   npm run bench [-- tidings raw-sse mosquitto ejabberd]
 *
 * 200 receiving devices, 200 senders, 500-byte opaque envelopes, 20,000 a
 * phase, after an unmeasured warm-up:
 * - A, receivers online: latency p50/p99 (send started → envelope handed
 *   to the receiver) at fixed rates of 1,000 and 2,000 envelopes/s, and the
 *   server's CPU time per envelope from its own accounting (/proc/<pid>/stat,
 *   children included);
 * - B, receivers offline while 20,000 are sent, then all reconnect: drain
 *   time (reconnect → last envelope in), duplicates, losses;
 * - the same with a SIGKILL of the server between the send and the
 *   reconnect: losses;
 * - idle streams: server RSS per open connection at 10,000 of them, on a
 *   freshly restarted server.
 * While each phase runs, the CPU that other processes used (neither the
 * server nor this harness) is measured from /proc/stat and printed: when it
 * is high, the figures are not to be trusted; run again.
 *
 * BENCH_DEVICES, BENCH_ENVELOPES and BENCH_IDLE change the sizes;
 * TEST_STORE=postgresql runs Tidings on a throwaway PostgreSQL cluster.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import { SERVER_FILE } from '../scripts/bundles'
import { ejabberdPeer } from './peers/ejabberd'
import { mosquittoPeer } from './peers/mosquitto'
import { type Peer } from './peers/peer'
import { rawSsePeer } from './peers/raw-sse'
import { tidingsPeer } from './peers/tidings'
import {
  allReceivers,
  now,
  percentile,
  sendAll,
  sendAtRate,
  sleep,
  Tally,
  waitForArrivals,
} from './peers/workload'

const PEERS: Record<string, () => Peer> = {
  tidings: tidingsPeer,
  'raw-sse': rawSsePeer,
  mosquitto: mosquittoPeer,
  ejabberd: ejabberdPeer,
}
const DEVICES = Number(process.env.BENCH_DEVICES ?? 200)
const ENVELOPES = Number(process.env.BENCH_ENVELOPES ?? 20_000)
const IDLE = Number(process.env.BENCH_IDLE ?? 10_000)
const RATES = [1_000, 2_000]
const WARM_UP = 4_000

/** Clock ticks per second in /proc (USER_HZ; 100 on Linux everywhere). */
const TICKS = 100

/** CPU seconds that `pid` and its living descendants have used. */
function cpuSeconds(pids: number[]): number {
  const stats = new Map<number, { parent: number; ticks: number }>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // The command name may hold spaces: fields are counted after its ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const parent = Number(fields[1])
      const ticks = Number(fields[11]) + Number(fields[12])
      stats.set(Number(name), { parent, ticks })
    } catch {
      // exited meanwhile
    }
  }
  const isServer = (pid: number): boolean => {
    for (let at = pid, hops = 0; at > 1 && hops < 64; hops++) {
      if (pids.includes(at)) return true
      at = stats.get(at)?.parent ?? 0
    }
    return false
  }
  let ticks = 0
  for (const [pid, stat] of stats) if (isServer(pid)) ticks += stat.ticks
  return ticks / TICKS
}

/** CPU seconds all processes have used, from /proc/stat (idle and iowait left out). */
function machineCpuSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const [user, nice, system, , , irq, softirq, steal] = line
    .split(/\s+/)
    .slice(1)
    .map(Number)
  return (
    ((user ?? 0) +
      (nice ?? 0) +
      (system ?? 0) +
      (irq ?? 0) +
      (softirq ?? 0) +
      (steal ?? 0)) /
    TICKS
  )
}

function harnessCpuSeconds(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1e6
}

/** Resident memory of the server's processes, in bytes. */
function rssBytes(pids: number[]): number {
  let total = 0
  for (const pid of pids) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    total += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
  }
  return total
}

/**
 * Measures the CPU used while `work` runs: the server's, and the share of
 * the machine's cores that everything else (this harness excepted) used.
 */
async function measured<T>(peer: Peer, work: () => Promise<T>) {
  const pids = peer.serverPids()
  const before = {
    server: cpuSeconds(pids),
    all: machineCpuSeconds(),
    self: harnessCpuSeconds(),
    at: now(),
  }
  const result = await work()
  const server = cpuSeconds(pids) - before.server
  const all = machineCpuSeconds() - before.all
  const self = harnessCpuSeconds() - before.self
  const seconds = (now() - before.at) / 1000
  const others = Math.max(0, all - server - self) / (seconds * os.availableParallelism())
  return { result, server, others }
}

interface Figures {
  peer: string
  /** Per rate: µs of server CPU per envelope, p50 and p99 in ms. */
  rates: { rate: number; cpuMicros: number; p50: number; p99: number; lost: number }[]
  drainMs: number
  drainDuplicates: number
  drainLost: number
  crashLost: number
  idleBytes: number
  /** Highest share of the cores other processes used during a phase. */
  others: number
  refused: number
}

function log(peer: string, text: string) {
  console.log(`  ${peer}: ${text}`)
}

async function benchmark(name: string, peer: Peer): Promise<Figures> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `bench-${name}-`))
  const tally = new Tally()
  const { connectAll, disconnectAll } = allReceivers(peer, DEVICES, tally)
  const figures: Figures = {
    peer: name,
    rates: [],
    drainMs: NaN,
    drainDuplicates: 0,
    drainLost: 0,
    crashLost: 0,
    idleBytes: NaN,
    others: 0,
    refused: 0,
  }
  const noteOthers = (share: number, phase: string) => {
    figures.others = Math.max(figures.others, share)
    if (share > 0.1)
      log(name, `${phase}: other processes used ${(share * 100).toFixed(0)}% of the CPU`)
  }

  let seq = 0
  const take = (count: number) => {
    const from = seq
    seq += count
    return [from, seq] as const
  }

  try {
    const started = now()
    await peer.start(DEVICES, dataDir)
    const startMs = Math.round(now() - started)
    log(name, `started with ${DEVICES} receivers and ${DEVICES} senders in ${startMs} ms`)
    await connectAll()

    const [warmFrom, warmTo] = take(WARM_UP)
    figures.refused += await sendAtRate(peer, DEVICES, warmFrom, warmTo, RATES[0] ?? 1000)
    await waitForArrivals(tally, warmFrom, warmTo)

    // A: receivers online, fixed rates.
    for (const rate of RATES) {
      const [from, to] = take(ENVELOPES)
      const {
        result: refused,
        server,
        others,
      } = await measured(peer, async () => {
        const refused = await sendAtRate(peer, DEVICES, from, to, rate)
        await waitForArrivals(tally, from, to)
        return refused
      })
      figures.refused += refused
      noteOthers(others, `${rate}/s`)
      const latencies = tally.latenciesOf(from, to)
      const entry = {
        rate,
        cpuMicros: (server * 1e6) / (to - from - refused),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        lost: to - from - refused - tally.of(from, to).arrived,
      }
      figures.rates.push(entry)
      log(
        name,
        `${rate}/s: p50 ${entry.p50.toFixed(2)} ms, p99 ${entry.p99.toFixed(2)} ms, ` +
          `${entry.cpuMicros.toFixed(0)} µs CPU/envelope, ${entry.lost} lost, ${refused} refused`,
      )
    }

    // B: receivers away while the phase is sent, then all back at once.
    await disconnectAll()
    {
      const [from, to] = take(ENVELOPES)
      const sendStart = now()
      const refused = await sendAll(peer, DEVICES, from, to)
      figures.refused += refused
      const sendMs = now() - sendStart
      await sleep(500)
      const { result: reconnected, others } = await measured(peer, async () => {
        const reconnected = now()
        await connectAll()
        await waitForArrivals(tally, from, to)
        return reconnected
      })
      noteOthers(others, 'drain')
      const { arrived, duplicated } = tally.of(from, to)
      figures.drainMs = tally.lastArrival(from, to) - reconnected
      figures.drainDuplicates = duplicated
      figures.drainLost = to - from - refused - arrived
      log(
        name,
        `offline: sent ${to - from} in ${Math.round(sendMs)} ms; drained in ` +
          `${Math.round(figures.drainMs)} ms, ${duplicated} twice, ${figures.drainLost} lost`,
      )
    }

    // The same, with the server killed before the receivers come back.
    await disconnectAll()
    {
      const [from, to] = take(ENVELOPES)
      const refused = await sendAll(peer, DEVICES, from, to)
      figures.refused += refused
      await peer.crash()
      await connectAll()
      await waitForArrivals(tally, from, to)
      const accepted = to - from - refused
      figures.crashLost = accepted - tally.of(from, to).arrived
      log(name, `SIGKILL after the send: ${figures.crashLost} of ${accepted} lost`)
    }
    await disconnectAll()

    // Idle streams, on a fresh server process: one that has just run the
    // phases above has free heap from them, which new streams would fill
    // without growing, and look cheaper than they are.
    if (IDLE === 0) return figures
    await peer.prepareIdle?.(IDLE)
    await peer.crash()
    await sleep(2000)
    const rssBefore = rssBytes(peer.serverPids())
    const close = await peer.openIdle(IDLE)
    await sleep(2000)
    figures.idleBytes = (rssBytes(peer.serverPids()) - rssBefore) / IDLE
    log(name, `${IDLE} idle streams: ${(figures.idleBytes / 1024).toFixed(1)} KB each`)
    await close()
  } finally {
    await peer.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
  return figures
}

function table(rows: Figures[]): string {
  const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(0))
  const header = [
    '',
    ...RATES.map((rate) => `CPU µs/envelope at ${rate.toLocaleString('en')}/s`),
    ...RATES.map((rate) => `p50 / p99 at ${rate.toLocaleString('en')}/s`),
    `drain ${ENVELOPES.toLocaleString('en')}`,
    'twice / lost',
    'lost after SIGKILL',
    'idle stream',
    "others' CPU",
  ]
  const lost = (row: Figures) =>
    row.drainLost + row.rates.reduce((sum, rate) => sum + rate.lost, 0)
  const lines = rows.map((row) => [
    row.peer,
    ...row.rates.map((rate) => rate.cpuMicros.toFixed(0)),
    ...row.rates.map((rate) => `${ms(rate.p50)} / ${ms(rate.p99)} ms`),
    `${(row.drainMs / 1000).toFixed(2)} s`,
    `${row.drainDuplicates} / ${lost(row)}`,
    String(row.crashLost),
    `${(row.idleBytes / 1024).toFixed(1)} KB`,
    `${(row.others * 100).toFixed(0)}%`,
  ])
  return [header, header.map(() => '---'), ...lines]
    .map((cells) => `| ${cells.join(' | ')} |`)
    .join('\n')
}

/** The Debian package each peer runs, and a file that shows it is installed. */
const PACKAGES: Record<string, { pkg: string; file: string }> = {
  mosquitto: { pkg: 'mosquitto', file: '/usr/sbin/mosquitto' },
  ejabberd: { pkg: 'ejabberd', file: '/usr/sbin/ejabberdctl' },
}

const names = process.argv.slice(2)
const missing = (names.length > 0 ? names : Object.keys(PEERS))
  .map((name) => PACKAGES[name])
  .filter((needed) => needed && !existsSync(needed.file))
  .map((needed) => needed?.pkg)
if (missing.length > 0) {
  console.error(
    `bench: install ${missing.join(', ')} first: apt-get install -y ${missing.join(' ')}`,
  )
  process.exit(1)
}
for (const name of names) {
  if (!PEERS[name])
    throw new Error(`unknown peer ${name}; one of ${Object.keys(PEERS).join(', ')}`)
}
if (!existsSync(SERVER_FILE)) {
  console.log('bench: building the app first (npm run build)')
  const build = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], {
    stdio: 'inherit',
  })
  if (build.status !== 0) process.exit(1)
}

console.log(
  `bench: ${DEVICES} receivers, ${DEVICES} senders, 500-byte envelopes, ` +
    `${ENVELOPES.toLocaleString('en')} a phase, ${os.availableParallelism()} cores`,
)
const rows: Figures[] = []
for (const name of names.length > 0 ? names : Object.keys(PEERS)) {
  console.log(`bench: ${name}`)
  const make = PEERS[name]
  if (make) rows.push(await benchmark(name, make()))
}
console.log(`\n${table(rows)}`)
const refused = rows.filter((row) => row.refused > 0)
for (const row of refused) console.log(`${row.peer}: ${row.refused} sends refused`)
process.exit(0)
