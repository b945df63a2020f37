/**
 * The server program: Next.js with the relay's hot paths in front
 * (lib/server/http/server.ts). scripts/build.ts bundles it into
 * .next/tidings/server.mjs, which `npm start` and the tests run with plain
 * Node: lib/server's `server-only` guard is satisfied at bundle time, and
 * Next.js must not run under the react-server condition.
 * Honours PORT (default 3000), HOST, and NODE_ENV=development for dev mode.
 */
import { serve } from '../lib/server/http/server'

const dev = process.env.NODE_ENV === 'development'
await serve({
  port: Number(process.env.PORT ?? 3000),
  host: process.env.HOST || undefined,
  dev,
})
