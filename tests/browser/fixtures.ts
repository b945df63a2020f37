import { test as base } from '@playwright/test'

import { startServer, type TestServer } from '../support/server'

/** A real server (next start, fresh SQLite file) per worker. */
export const test = base.extend<object, { server: TestServer }>({
  server: [
    async ({}, use) => {
      const server = await startServer()
      try {
        await use(server)
      } finally {
        await server.close()
      }
    },
    { scope: 'worker' },
  ],
})

export { expect } from '@playwright/test'
