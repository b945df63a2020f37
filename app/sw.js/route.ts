import { readFile } from 'node:fs/promises'
import path from 'node:path'

import { logger } from '@/lib/server/log'

export const dynamic = 'force-dynamic'

const log = logger('sw')
let script: Promise<string> | undefined

// GET /sw.js: the service worker that `npm run build` bundled for this
// build. Never cached by HTTP, so browsers see a new build on their next
// visit; its scope is the whole app.
export async function GET(): Promise<Response> {
  script ??= readFile(path.join(process.cwd(), '.next', 'tidings', 'sw.js'), 'utf8')
  try {
    return new Response(await script, {
      headers: {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'no-cache',
        'service-worker-allowed': '/',
      },
    })
  } catch {
    script = undefined
    log.error('no service worker in .next/tidings: build with `npm run build`')
    return Response.json(
      { error: { code: 'not-found', message: 'sw.js: not built (run npm run build)' } },
      { status: 404 },
    )
  }
}
