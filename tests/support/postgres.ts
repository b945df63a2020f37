/**
 * A throwaway PostgreSQL cluster for tests, from Debian's `postgresql`
 * package: initdb into a temporary folder, the server on 127.0.0.1 and a
 * free port, one database. `stop()` ends the server and deletes the folder.
 * PostgreSQL refuses to run as root, so as root it runs as `postgres`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, readdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import { freePort } from './ports'

export interface TestPostgres {
  /** postgresql://… of the database made for the caller. */
  url: string
  /** The cluster's data folder (what lies on disk). */
  dataDir: string
  stop: () => Promise<void>
}

/** Where Debian keeps the server binaries (one version installed). */
function binaries(): string {
  const root = '/usr/lib/postgresql'
  const version = existsSync(root) ? readdirSync(root).sort().pop() : undefined
  if (!version) {
    throw new Error('PostgreSQL is not installed: apt-get install -y postgresql')
  }
  return path.join(root, version, 'bin')
}

/**
 * PostgreSQL refuses to run as root: as root, its programs run as the
 * `postgres` user Debian's package made (spawn's uid and gid, so signals
 * reach the server itself, not a wrapper).
 */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {}
  const id = (flag: string) =>
    Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim())
  return { uid: id('-u'), gid: id('-g') }
}

/** Runs a PostgreSQL program; throws with its output on failure. */
function run(program: string, args: string[]): void {
  const result = spawnSync(program, args, { encoding: 'utf8', ...runAs() })
  if (result.status !== 0) {
    throw new Error(`${path.basename(program)}: ${result.stderr || result.stdout}`)
  }
}

/** Starts a fresh cluster with one database named `database`. */
export async function startPostgres(database = 'tidings'): Promise<TestPostgres> {
  const bin = binaries()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidings-pg-'))
  const data = path.join(dir, 'data')
  const user = runAs()
  if (user.uid !== undefined && user.gid !== undefined) chownSync(dir, user.uid, user.gid)
  chmodSync(dir, 0o700)
  run(path.join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
  ])

  const port = await freePort()
  const args = [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
  ]
  const server: ChildProcess = spawn(path.join(bin, 'postgres'), args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...user,
  })
  let log = ''
  server.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()))

  const deadline = Date.now() + 20_000
  for (;;) {
    const ready = spawnSync(path.join(bin, 'pg_isready'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
    ])
    if (ready.status === 0) break
    if (server.exitCode !== null || Date.now() > deadline) {
      throw new Error(`postgres did not start:\n${log}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  run(path.join(bin, 'createdb'), [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'postgres',
    database,
  ])

  return {
    url: `postgresql://postgres@127.0.0.1:${port}/${database}`,
    dataDir: data,
    stop: async () => {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve))
        server.kill('SIGINT')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
