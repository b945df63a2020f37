/**
 * `npm run dev`: the server program in Next.js's development mode. Applies
 * the migrations, bundles the server program (scripts/bundles.ts) and runs
 * it with NODE_ENV=development, so pages compile on request while the
 * relay's hot paths are served as in production. A change under lib/server
 * needs a restart; pages and components reload by themselves.
 * The service worker exists only after `npm run build`.
 */
import { buildServer } from './bundles'
import { migrateDatabase, runServer } from './run-server'

await migrateDatabase()
await buildServer()
runServer('development')
