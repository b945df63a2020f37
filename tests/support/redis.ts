/**
 * A throwaway Redis for tests, from Debian's `redis-server`: on 127.0.0.1
 * and a free port, nothing saved to disk. `stop()` ends it.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'

import { freePort } from './ports'

export interface TestRedis {
  /** redis://… for REDIS_URL. */
  url: string
  stop: () => Promise<void>
}

const SERVER = '/usr/bin/redis-server'

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => {
      socket.destroy()
      resolve(data.toString().startsWith('+PONG'))
    })
    socket.once('error', () => resolve(false))
  })
}

/** Starts a fresh Redis; throws when the package is missing or it will not start. */
export async function startRedis(): Promise<TestRedis> {
  if (!existsSync(SERVER)) {
    throw new Error('Redis is not installed: apt-get install -y redis-server')
  }
  const port = await freePort()
  const server = spawn(
    SERVER,
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let log = ''
  server.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()))
  server.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()))

  const deadline = Date.now() + 10_000
  while (!(await answers(port))) {
    if (server.exitCode !== null || Date.now() > deadline) {
      server.kill('SIGKILL')
      throw new Error(`redis-server did not start:\n${log}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      if (server.exitCode !== null) return
      const exited = new Promise((resolve) => server.once('exit', resolve))
      server.kill('SIGTERM')
      await exited
    },
  }
}
