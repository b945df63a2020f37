import 'server-only'

/**
 * What a failed store operation means for the caller, on SQLite and
 * PostgreSQL alike, from Prisma's error codes and PostgreSQL's SQLSTATEs.
 *
 * The checks read the error's fields rather than test its class: the custom
 * server and Next.js's route bundles each load their own copy of Prisma's
 * runtime, and an error from one copy is no instance of the other's class.
 */

/** Prisma's code (P2002…) of a known request error. */
function prismaCode(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== 'PrismaClientKnownRequestError') {
    return undefined
  }
  const { code } = error as Error & { code?: unknown }
  return typeof code === 'string' ? code : undefined
}

/** PostgreSQL's SQLSTATE: straight from pg, or kept by Prisma's adapter (P2010). */
function sqlState(error: unknown): string | undefined {
  if (prismaCode(error) === 'P2010') {
    const { meta } = error as { meta?: { driverAdapterError?: { cause?: unknown } } }
    const cause = meta?.driverAdapterError?.cause as
      { originalCode?: unknown } | undefined
    return typeof cause?.originalCode === 'string' ? cause.originalCode : undefined
  }
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
}

/** A unique constraint refused the write: the record exists already. */
export function isDuplicate(error: unknown): boolean {
  return prismaCode(error) === 'P2002'
}

/**
 * The record written to, or the one it refers to, is gone: deleted by a
 * concurrent request (an unlink, the expiry sweep) since it was read.
 */
export function isGone(error: unknown): boolean {
  const code = prismaCode(error)
  return code === 'P2025' || code === 'P2003'
}

/**
 * The store was too busy to finish in time: no connection free, a
 * transaction timed out, or PostgreSQL aborted it as a deadlock or a
 * serialization failure. Nothing was written; the same request can be
 * sent again.
 */
export function isTransient(error: unknown): boolean {
  const code = prismaCode(error)
  if (code === 'P2024' || code === 'P2028' || code === 'P2034') return true
  const state = sqlState(error)
  return state === '40001' || state === '40P01'
}
