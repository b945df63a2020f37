import 'server-only'

import http from 'node:http'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

import next from 'next'
import type { NextConfig } from 'next'

import { closeDb } from '../db/client'
import { closeRelayStore, relayStore } from '../db/relay-store'
import { logger } from '../log'
import { startMaintenance } from '../maintenance'
import { deliveryHub } from '../relay/hub'
import { serveRelayRoute } from './relay-routes'

const log = logger('server')

export interface ServeOptions {
  port: number
  /** Address to bind; all interfaces when absent. */
  host?: string
  /** Next.js development mode (compiles pages on request). */
  dev?: boolean
}

/**
 * The production server: Next.js for the pages and most of the API, with
 * the relay's hot paths (send, stream, acknowledge) served in front of it
 * on the same port (relay-routes.ts). One process, one hub, one store.
 *
 * Stops cleanly on SIGTERM and SIGINT: no new connections, writes waiting
 * for their batch committed, the store closed. Killed outright, it loses
 * nothing that was answered: every answered send is committed first.
 */
export async function serve({ port, host, dev = false }: ServeOptions): Promise<void> {
  const app = next({ dev, hostname: host ?? 'localhost', port })
  await app.prepare()
  const handle = app.getRequestHandler()
  const apiHeaders = await headersFor('/api/messages')

  // Opened here first, so Next.js's route bundles use these instances too.
  relayStore()
  deliveryHub()
  startMaintenance()

  const server = http.createServer({ noDelay: true }, (request, response) => {
    if (serveRelayRoute(request, response, apiHeaders)) return
    handle(request, response).catch((error: unknown) => {
      log.error({ err: error, url: request.url }, 'next.js failed to answer')
      if (!response.headersSent) response.writeHead(500)
      response.end()
    })
  })
  // Clients keep their connection between sends; streams stay open for hours.
  server.keepAliveTimeout = 65_000
  server.requestTimeout = 60_000

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, backlog: 4096 }, resolve)
  })
  log.info({ port, host: host ?? 'all interfaces', dev }, 'listening')

  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    server.close()
    // Open streams would hold close() forever; their clients reconnect.
    server.closeAllConnections()
    void (async () => {
      await closeRelayStore()
      await closeDb()
      process.exit(0)
    })()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/**
 * The headers next.config.js gives every answer under `path`, so the
 * routes served here carry the same security headers as Next.js's own.
 */
async function headersFor(route: string): Promise<[string, string][]> {
  const config = (await import(pathToFileURL(path.resolve('next.config.js')).href)) as {
    default: NextConfig
  }
  const rules = (await config.default.headers?.()) ?? []
  return rules
    .filter((rule) => route.startsWith(rule.source.split(':')[0] ?? ''))
    .flatMap((rule) =>
      rule.headers.map(({ key, value }): [string, string] => [key, value]),
    )
}
