/**
 * Starts the real app for tests: migrations applied to a fresh SQLite file
 * in a temporary folder, then `next start` on 127.0.0.1 from the build that
 * scripts/test.ts made. Each test file gets its own server and database.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

import { applyMigrations } from '../../lib/server/db/migrate'

export interface TestServer {
  url: string
  dbFile: string
  /** Everything the server printed, for assertions about logs. */
  output: () => string
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  kill: (signal?: NodeJS.Signals) => Promise<void>
  /** Starts the server again on the same port and database. */
  restart: () => Promise<void>
  /** Stops the server and deletes its folder. */
  close: () => Promise<void>
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() =>
        resolve(typeof address === 'object' && address ? address.port : 0),
      )
    })
  })
}

async function waitUntilUp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    try {
      const response = await fetch(`${url}/api/health`)
      if (response.status < 500) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('server did not start within 30 s')
}

/** Starts a fresh server. Call `close()` in an `after` hook. */
export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidings-test-'))
  const dbFile = path.join(dir, 'tidings.db')
  const databaseUrl = `file:${dbFile}`
  await applyMigrations(databaseUrl)

  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let log = ''
  let child: ChildProcess

  const launch = async () => {
    child = spawn(
      process.execPath,
      [
        path.resolve('node_modules/next/dist/bin/next'),
        'start',
        '-H',
        '127.0.0.1',
        '-p',
        String(port),
      ],
      {
        // The runner's NODE_OPTIONS (the react-server condition) stays out of the server.
        env: {
          ...process.env,
          NODE_OPTIONS: '',
          DATABASE_URL: databaseUrl,
          NODE_ENV: 'production',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()))
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()))
    await waitUntilUp(url, child).catch((error: Error) => {
      throw new Error(`${error.message}; server output:\n${log}`)
    })
  }

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill(signal)
    await exited
  }

  await launch()
  return {
    url,
    dbFile,
    output: () => log,
    kill,
    restart: launch,
    close: async () => {
      await kill('SIGTERM')
      await rm(dir, { recursive: true, force: true })
    },
  }
}
