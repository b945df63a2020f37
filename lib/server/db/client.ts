import 'server-only'

import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'

import { logger } from '../log'
import { databaseUrl, providerOf, sqliteFilePath } from './database-url'
import { PrismaClient } from './generated/sqlite/client'

const log = logger('db')

interface Store {
  prisma: PrismaClient
  ready: Promise<void>
  /** Tail of the queue of operations on the single SQLite connection. */
  tail: Promise<unknown>
}

const STORE = Symbol.for('tidings.store')
type Holder = typeof globalThis & { [STORE]?: Store }

function open(): Store {
  const url = databaseUrl()
  if (providerOf(url) !== 'sqlite') {
    // Limitation: only the embedded SQLite store is wired up so far;
    // PostgreSQL arrives with the scale-out issue through the same models.
    throw new Error('db: only file: (SQLite) DATABASE_URL is supported in this build')
  }

  const file = sqliteFilePath(url)
  const prisma = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: file }) })

  // FULL makes each commit durable on disk before a sender is told "stored";
  // WAL itself is set once by the migrator and persists in the file.
  const ready = prisma
    .$queryRawUnsafe('PRAGMA synchronous = FULL')
    .then(() => log.info({ file }, 'opened SQLite store'))

  return { prisma, ready, tail: Promise.resolve() }
}

function store(): Store {
  const holder = globalThis as Holder
  holder[STORE] ??= open()
  return holder[STORE]
}

/**
 * Runs one store operation with the Prisma client.
 *
 * SQLite has a single connection here, and the adapter runs any query that
 * arrives while a transaction is open inside that transaction. So every
 * operation, read or write, takes its turn: nothing sees or joins another
 * request's uncommitted work.
 */
export function withDb<T>(operation: (prisma: PrismaClient) => Promise<T>): Promise<T> {
  const current = store()
  const run = current.tail.then(async () => {
    await current.ready.catch((error: unknown) => {
      // Opening failed (say, the file was locked): try again next time.
      delete (globalThis as Holder)[STORE]
      throw error
    })
    return operation(current.prisma)
  })
  current.tail = run.catch(() => undefined)
  return run
}

/** Closes the store (tests and shutdown). */
export async function closeDb(): Promise<void> {
  const holder = globalThis as Holder
  const current = holder[STORE]
  if (!current) return
  delete holder[STORE]
  await current.tail
  await current.prisma.$disconnect()
}

export type { PrismaClient }
