import 'server-only'

import { Prisma } from './generated/sqlite/client'

/**
 * What a failed store operation means for the caller. Both generated
 * clients share Prisma's runtime, so these checks hold on SQLite and
 * PostgreSQL alike.
 */

function codeOf(error: unknown): string | undefined {
  return error instanceof Prisma.PrismaClientKnownRequestError ? error.code : undefined
}

/** PostgreSQL's SQLSTATE for a failed raw query (P2010), when the adapter kept it. */
function sqlStateOf(error: unknown): string | undefined {
  if (codeOf(error) !== 'P2010') return undefined
  const meta = (error as Prisma.PrismaClientKnownRequestError).meta as
    { driverAdapterError?: { cause?: { originalCode?: string } } } | undefined
  return meta?.driverAdapterError?.cause?.originalCode
}

/** A unique constraint refused the write: the record exists already. */
export function isDuplicate(error: unknown): boolean {
  return codeOf(error) === 'P2002'
}

/**
 * The record written to, or the one it refers to, is gone: deleted by a
 * concurrent request (an unlink, the expiry sweep) since it was read.
 */
export function isGone(error: unknown): boolean {
  const code = codeOf(error)
  return code === 'P2025' || code === 'P2003'
}

/**
 * The store was too busy to finish in time: no connection free, a
 * transaction timed out, or PostgreSQL aborted it as a deadlock or a
 * serialization failure. Nothing was written; the same request can be
 * sent again.
 */
export function isTransient(error: unknown): boolean {
  const code = codeOf(error)
  if (code === 'P2024' || code === 'P2028' || code === 'P2034') return true
  const state = sqlStateOf(error)
  return state === '40001' || state === '40P01'
}
