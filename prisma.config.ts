import { defineConfig } from 'prisma/config'

// Prisma 7 reads the schema location here. The connection is made by our own
// code (lib/server/db), and migrations are applied by lib/server/db/migrate.ts
// through Prisma's wasm schema engine, so no datasource URL is needed here.
export default defineConfig({
  schema: 'prisma/sqlite/schema.prisma',
})
