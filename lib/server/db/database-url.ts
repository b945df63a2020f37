import 'server-only'

import path from 'node:path'

/** Where the embedded SQLite database lives unless DATABASE_URL says otherwise. */
export const DEFAULT_DATABASE_URL = 'file:./data/tidings.db'

/** The database this process uses: DATABASE_URL, or the embedded default. */
export function databaseUrl(): string {
  return process.env.DATABASE_URL || DEFAULT_DATABASE_URL
}

/** Which store a URL names. */
export function providerOf(url: string): 'sqlite' | 'postgresql' {
  if (url.startsWith('file:')) return 'sqlite'
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgresql'
  throw new Error(
    `databaseUrl: unsupported DATABASE_URL scheme in "${url.split(':')[0]}:"`,
  )
}

/** The absolute file path of a `file:` URL, relative paths taken from the working directory. */
export function sqliteFilePath(url: string): string {
  return path.resolve(url.slice('file:'.length))
}
