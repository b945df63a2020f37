import 'server-only'

import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaPg } from '@prisma/adapter-pg'

import { logger } from '../log'
import { databaseUrl, providerOf, sqliteFilePath } from './database-url'
import { PrismaClient as PostgresClient } from './generated/postgres/client'
import { PrismaClient } from './generated/sqlite/client'

const log = logger('db')

interface Store {
  prisma: PrismaClient
  ready: Promise<void>
  /**
   * Tail of the queue of operations on the single SQLite connection; null
   * on PostgreSQL, whose pool runs operations side by side.
   */
  tail: Promise<unknown> | null
}

const STORE = Symbol.for('tidings.store')
type Holder = typeof globalThis & { [STORE]?: Store }

/** Connections in the PostgreSQL pool of one process. */
const POOL_SIZE = Number(process.env.DATABASE_POOL_SIZE ?? 10)

function open(): Store {
  const url = databaseUrl()
  if (providerOf(url) === 'postgresql') {
    // The two generated clients have the same models and methods (the
    // schemas are kept identical); one type serves both.
    const prisma = new PostgresClient({
      adapter: new PrismaPg({ connectionString: url, max: POOL_SIZE }),
    }) as unknown as PrismaClient
    const ready = prisma
      .$queryRawUnsafe('SELECT 1')
      .then(() => log.info({ pool: POOL_SIZE }, 'opened PostgreSQL store'))
    return { prisma, ready, tail: null }
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
 * request's uncommitted work. PostgreSQL's pool gives each its own.
 */
export function withDb<T>(operation: (prisma: PrismaClient) => Promise<T>): Promise<T> {
  const current = store()
  const start = async () => {
    await current.ready.catch((error: unknown) => {
      // Opening failed (say, the file was locked): try again next time,
      // unless a caller alongside has already put a new store in place.
      const holder = globalThis as Holder
      if (holder[STORE] === current) {
        delete holder[STORE]
        void current.prisma.$disconnect().catch(() => undefined)
      }
      throw error
    })
    return operation(current.prisma)
  }
  if (!current.tail) return start()
  const run = current.tail.then(start)
  current.tail = run.catch(() => undefined)
  return run
}

/** Which store this process uses. */
export function storeProvider(): 'sqlite' | 'postgresql' {
  return providerOf(databaseUrl())
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
