/**
 * The SQLite and PostgreSQL schemas must describe the same models: the
 * server uses one client type for both, and a model on one side only
 * would fail at run time on the other.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

/** A schema's models and enums: everything after its datasource block. */
function models(provider: 'sqlite' | 'postgres'): string {
  const schema = readFileSync(`prisma/${provider}/schema.prisma`, 'utf8')
  const datasource = schema.indexOf('datasource db {')
  return schema.slice(schema.indexOf('}', datasource) + 1).trim()
}

test('the SQLite and PostgreSQL schemas have identical models', () => {
  const sqlite = models('sqlite')
  assert.ok(sqlite.includes('model Envelope {'), 'the SQLite schema has its models')
  assert.equal(models('postgres'), sqlite)
})
