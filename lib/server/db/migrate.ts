import 'server-only'

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'

import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { PrismaPg } from '@prisma/adapter-pg'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import Database from 'better-sqlite3'
import type * as SchemaEngineWasm from '@prisma/schema-engine-wasm'

import { logger } from '../log'
import { providerOf, sqliteFilePath } from './database-url'

// Prisma's native schema engine cannot be downloaded on our machines, and
// `prisma migrate` needs it. Prisma's own wasm build of the same engine,
// driven through the driver adapter, diffs schemas and applies migrations,
// recording them in _prisma_migrations exactly as `prisma migrate deploy` does.
type SchemaEngineModule = typeof SchemaEngineWasm
type SchemaEngine = Awaited<ReturnType<SchemaEngineModule['SchemaEngine']['new']>>
type MigrationList = Parameters<SchemaEngine['applyMigrations']>[0]['migrationsList']

const log = logger('migrate')

const NO_FILTERS = { externalTables: [], externalEnums: [] }

/** Where a provider's schema and migrations live. */
export function prismaDir(provider: 'sqlite' | 'postgresql'): string {
  return path.resolve('prisma', provider === 'sqlite' ? 'sqlite' : 'postgres')
}

/** The last panic message of the wasm engine (it reports them through this global). */
const PANICS = {
  last: '',
  set_message(message: string) {
    this.last = message
  },
}
;(
  globalThis as { PRISMA_WASM_PANIC_REGISTRY?: typeof PANICS }
).PRISMA_WASM_PANIC_REGISTRY ??= PANICS

let wasmEngine: Promise<SchemaEngineModule> | undefined

/**
 * The engine's bindings, instantiated once per process: the bindings module
 * caches views of its wasm memory, so a second instance under the same
 * module reads garbage.
 */
function loadWasmEngine(): Promise<SchemaEngineModule> {
  wasmEngine ??= instantiateWasmEngine()
  return wasmEngine
}

async function instantiateWasmEngine(): Promise<SchemaEngineModule> {
  // The package's entry imports the .wasm file as an ES module, which Node 20
  // cannot do, so the bindings are instantiated by hand.
  const require = createRequire(import.meta.url)
  const bindingsPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')
  const bindings = (await import(bindingsPath)) as SchemaEngineModule & {
    __wbg_set_wasm(exports: WebAssembly.Exports): void
  }
  const wasmPath = path.join(path.dirname(bindingsPath), 'schema_engine_bg.wasm')
  const { instance } = await WebAssembly.instantiate(await readFile(wasmPath), {
    './schema_engine_bg.js': bindings as unknown as WebAssembly.ModuleImports,
  })
  bindings.__wbg_set_wasm(instance.exports)
  ;(instance.exports.__wbindgen_start as () => void)()
  return bindings
}

interface OpenEngine {
  engine: SchemaEngine
  /** Frees the engine and closes every connection it opened. */
  close: () => Promise<void>
}

async function openEngine(url: string, schema: string): Promise<OpenEngine> {
  const wasm = await loadWasmEngine()
  const connections: { dispose: () => Promise<void> }[] = []
  const factory =
    providerOf(url) === 'sqlite'
      ? sqliteFactory(url, connections)
      : postgresFactory(url, connections)
  const onLog = (line: string) => log.debug({ engine: line }, 'schema engine')
  const engine = await wasm.SchemaEngine.new(
    { datamodels: [['schema.prisma', schema]] },
    onLog,
    factory,
  )
  return {
    engine,
    close: async () => {
      engine.free()
      await Promise.all(connections.map((connection) => connection.dispose()))
    },
  }
}

type Disposable = { dispose: () => Promise<void> }

function sqliteFactory(url: string, connections: Disposable[]) {
  const sqlite = new PrismaBetterSqlite3({ url: sqliteFilePath(url) })
  return bindMigrationAwareSqlAdapterFactory({
    provider: sqlite.provider,
    adapterName: sqlite.adapterName,
    connect: async () => {
      const connection = await sqlite.connect()
      connections.push(connection)
      return connection
    },
    connectToShadowDb: async () => {
      // The engine replays each migration file on the shadow database as one
      // executeRaw call, which better-sqlite3 refuses for several statements;
      // a parameterless script goes through executeScript instead.
      const shadow = await sqlite.connectToShadowDb()
      connections.push(shadow)
      const executeRaw = shadow.executeRaw.bind(shadow)
      shadow.executeRaw = async (query) => {
        if (query.args.length > 0) return executeRaw(query)
        await shadow.executeScript(query.sql)
        return 0
      }
      return shadow
    },
  })
}

/** PostgreSQL: the shadow database is a temporary database on the same server. */
function postgresFactory(url: string, connections: Disposable[]) {
  const postgres = new PrismaPg({ connectionString: url })
  return bindMigrationAwareSqlAdapterFactory({
    provider: postgres.provider,
    adapterName: postgres.adapterName,
    connect: async () => {
      const connection = await postgres.connect()
      connections.push(connection)
      return connection
    },
    connectToShadowDb: async () => {
      const shadow = await postgres.connectToShadowDb()
      connections.push(shadow)
      return shadow
    },
  })
}

async function readMigrations(dir: string): Promise<MigrationList> {
  const baseDir = path.join(dir, 'migrations')
  const names = (await readdir(baseDir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()

  const migrationDirectories = await Promise.all(
    names.map(async (name) => ({
      path: name,
      migrationFile: {
        path: 'migration.sql',
        content: {
          tag: 'ok' as const,
          value: await readFile(path.join(baseDir, name, 'migration.sql'), 'utf8'),
        },
      },
    })),
  )
  const lockPath = path.join(baseDir, 'migration_lock.toml')
  const lockContent = await readFile(lockPath, 'utf8').catch(() => null)

  return {
    baseDir,
    lockfile: { path: 'migration_lock.toml', content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories,
  }
}

/**
 * Brings the database at `url` up to date with the committed migrations.
 * Creates the SQLite file and its folder when missing and switches it to WAL.
 * @returns the names of the migrations applied now (empty when up to date)
 */
export async function applyMigrations(url: string): Promise<string[]> {
  const dir = prismaDir(providerOf(url))
  if (providerOf(url) === 'sqlite') {
    const file = sqliteFilePath(url)
    await mkdir(path.dirname(file), { recursive: true })
    // WAL lets the stream read while a send commits; the mode persists in the file.
    const sqlite = new Database(file)
    sqlite.pragma('journal_mode = WAL')
    sqlite.close()
  }

  const schema = await readFile(path.join(dir, 'schema.prisma'), 'utf8')
  const { engine, close } = await openEngine(url, schema)
  try {
    const migrationsList = await readMigrations(dir)
    const { appliedMigrationNames } = await engine.applyMigrations({
      migrationsList,
      filters: NO_FILTERS,
    })
    if (appliedMigrationNames.length > 0) {
      log.info({ applied: appliedMigrationNames }, 'applied migrations')
    }
    return appliedMigrationNames
  } finally {
    await close()
  }
}

/**
 * Writes a new migration folder with the SQL that takes the committed
 * migrations to the current schema.prisma. A scratch database is used for
 * the diff; no real database is touched.
 * @returns the folder written, or null when the schema has no changes
 */
export async function createMigration(
  provider: 'sqlite' | 'postgresql',
  name: string,
  scratchUrl: string,
): Promise<string | null> {
  const dir = prismaDir(provider)
  const schema = await readFile(path.join(dir, 'schema.prisma'), 'utf8')
  const { engine, close } = await openEngine(scratchUrl, schema)
  try {
    const migrationsList = await readMigrations(dir)
    const { stdout } = await engine.diff({
      from:
        migrationsList.migrationDirectories.length === 0
          ? { tag: 'empty' }
          : { tag: 'migrations', ...migrationsList },
      to: { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: schema }] },
      script: true,
      exitCode: null,
      filters: NO_FILTERS,
    })
    const sql = stdout ?? ''
    if (!/\S/.test(sql.replace(/^--.*$/gm, ''))) return null

    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14)
    const folder = path.join(dir, 'migrations', `${stamp}_${name}`)
    await mkdir(folder, { recursive: true })
    await writeFile(path.join(folder, 'migration.sql'), sql)
    await writeFile(
      path.join(dir, 'migrations', 'migration_lock.toml'),
      `# Written by scripts/db.ts; keep it in git.\nprovider = "${provider}"\n`,
    )
    return folder
  } finally {
    await close()
  }
}
