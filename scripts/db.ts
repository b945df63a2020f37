/**
 * Database chores without Prisma's native engine:
 *   tsx scripts/db.ts migrate            apply committed migrations to DATABASE_URL
 *   tsx scripts/db.ts new <name>         write a migration from schema changes
 */
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import { databaseUrl } from '../lib/server/db/database-url'
import { applyMigrations, createMigration } from '../lib/server/db/migrate'

async function main(): Promise<void> {
  const [command, name] = process.argv.slice(2)

  if (command === 'migrate') {
    const applied = await applyMigrations(databaseUrl())
    console.log(
      applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date',
    )
    return
  }

  if (command === 'new' && name && /^[a-z0-9_]+$/.test(name)) {
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'tidings-diff-'))
    try {
      const folder = await createMigration('sqlite', name, `file:${scratch}/scratch.db`)
      console.log(folder ? `wrote ${path.relative('.', folder)}` : 'no schema changes')
    } finally {
      await rm(scratch, { recursive: true, force: true })
    }
    return
  }

  console.error('usage: tsx scripts/db.ts migrate | new <snake_case_name>')
  process.exitCode = 2
}

await main()
