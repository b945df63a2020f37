/**
 * Starts the real app for tests: migrations applied to a fresh store (a
 * SQLite file in a temporary folder, or PostgreSQL), then the server program
 * (Next.js with the relay in front, scripts/serve.ts) on 127.0.0.1 from the
 * build that scripts/test.ts made. Each test file gets its
 * own server and database.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import Database from 'better-sqlite3'
import pg from 'pg'

import { applyMigrations } from '../../lib/server/db/migrate'
import { SERVER_FILE } from '../../scripts/bundles'
import { freePort } from './ports'
import { startPostgres } from './postgres'

export interface TestServer {
  url: string
  /**
   * Runs SQL on the server's store, SQLite or PostgreSQL (`?` placeholders;
   * a Date parameter is stored as each provider stores Prisma's DateTime).
   */
  query: <Row = Record<string, unknown>>(
    sql: string,
    ...params: unknown[]
  ) => Promise<Row[]>
  /** `SELECT count(*) AS n …` as a number on either store. */
  count: (sql: string, ...params: unknown[]) => Promise<number>
  /** Changes whenever anything is committed to the store. */
  storeVersion: () => Promise<string>
  /** The store's files on disk: the SQLite file with its WAL, or PostgreSQL's data folder. */
  storeFiles: () => string[]
  /** Everything the server printed, for assertions about logs. */
  output: () => string
  /** The server process's id (the benchmark reads its CPU time and RSS). */
  pid: () => number | undefined
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  kill: (signal?: NodeJS.Signals) => Promise<void>
  /** Starts the server again on the same port and database. */
  restart: () => Promise<void>
  /** Stops the server and deletes its folder. */
  close: () => Promise<void>
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

/**
 * Starts a fresh server. Call `close()` in an `after` hook.
 *
 * Its store is a new SQLite file, or with TEST_STORE=postgresql a throwaway
 * PostgreSQL cluster; `databaseUrl` instead shares a store the caller has
 * migrated and will remove (several instances of one deployment).
 */
export async function startServer(
  env: Record<string, string> = {},
  {
    databaseUrl: shared,
    dataDir,
    nodeArgs = [],
  }: { databaseUrl?: string; dataDir?: string; nodeArgs?: string[] } = {},
): Promise<TestServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tidings-test-'))
  const dbFile = path.join(dir, 'tidings.db')
  const postgres =
    !shared && process.env.TEST_STORE === 'postgresql' ? await startPostgres() : null
  const databaseUrl = shared ?? postgres?.url ?? `file:${dbFile}`
  if (!shared) await applyMigrations(databaseUrl)

  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let log = ''
  let child: ChildProcess

  const launch = async () => {
    child = spawn(process.execPath, [...nodeArgs, path.resolve(SERVER_FILE)], {
      // The runner's NODE_OPTIONS (the react-server condition) stays out of the server.
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        DATABASE_URL: databaseUrl,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
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
  const store = openStore(databaseUrl, dbFile, postgres?.dataDir ?? dataDir)
  return {
    url,
    ...store,
    output: () => log,
    pid: () => child.pid,
    kill,
    restart: launch,
    close: async () => {
      await kill('SIGTERM')
      await store.close()
      await postgres?.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Direct access to a store for tests that look at or tamper with rows. */
function openStore(databaseUrl: string, dbFile: string, dataDir: string | undefined) {
  if (databaseUrl.startsWith('file:')) {
    // data_version moves when another connection commits, so it needs one
    // connection kept open.
    let watcher: Database.Database | undefined
    const query = <Row>(sql: string, ...params: unknown[]): Promise<Row[]> => {
      const db = new Database(dbFile)
      try {
        const values = params.map((value) =>
          value instanceof Date ? value.getTime() : value,
        )
        const statement = db.prepare(sql)
        const rows = statement.reader
          ? statement.all(...values)
          : (statement.run(...values), [])
        return Promise.resolve(rows as Row[])
      } finally {
        db.close()
      }
    }
    return {
      query,
      count: async (sql: string, ...params: unknown[]) =>
        Number((await query<{ n: number }>(sql, ...params))[0]?.n),
      storeVersion: () => {
        watcher ??= new Database(dbFile, { readonly: true })
        return Promise.resolve(String(watcher.pragma('data_version', { simple: true })))
      },
      storeFiles: () =>
        ['', '-wal', '-shm']
          .map((suffix) => dbFile + suffix)
          .filter((file) => existsSync(file)),
      close: () => watcher?.close(),
    }
  }

  // One small pool for the test's lifetime: the fuzz test asks after every request.
  let pool: pg.Pool | undefined
  const query = async <Row>(sql: string, ...params: unknown[]): Promise<Row[]> => {
    pool ??= new pg.Pool({ connectionString: databaseUrl, max: 2 })
    let index = 0
    const numbered = sql.replace(/\?/g, () => `$${++index}`)
    const values = params.map((value) =>
      value instanceof Uint8Array
        ? Buffer.from(value)
        : value instanceof Date
          ? value.toISOString()
          : value,
    )
    return (await pool.query(numbered, values)).rows as Row[]
  }
  return {
    query,
    count: async (sql: string, ...params: unknown[]) =>
      Number((await query<{ n: string }>(sql, ...params))[0]?.n),
    // Every commit that changes anything writes the WAL.
    storeVersion: async () =>
      (await query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]
        ?.lsn ?? '',
    storeFiles: () =>
      dataDir
        ? readdirSync(dataDir, { recursive: true, withFileTypes: true })
            .filter((entry) => entry.isFile())
            .map((entry) => path.join(entry.parentPath, entry.name))
        : [],
    close: () => pool?.end(),
  }
}
