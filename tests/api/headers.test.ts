import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { startServer, type TestServer } from '../support/server'

let server: TestServer

before(async () => {
  server = await startServer()
})
after(() => server.close())

const COMMON = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}

describe('security headers in production', () => {
  test('the page: a nonce CSP without unsafe-eval, no framing, the fixed headers', async () => {
    const first = await fetch(`${server.url}/`)
    const second = await fetch(`${server.url}/`)
    const policy = first.headers.get('content-security-policy') ?? ''

    for (const [name, value] of Object.entries(COMMON)) {
      assert.equal(first.headers.get(name), value, name)
    }
    assert.match(first.headers.get('permissions-policy') ?? '', /microphone=\(\)/)
    assert.match(policy, /script-src 'self' 'nonce-[\w+/=]+' 'strict-dynamic'/)
    assert.match(policy, /frame-ancestors 'none'/)
    assert.doesNotMatch(policy, /unsafe-eval|unsafe-inline/)
    const nonce = /'nonce-([\w+/=]+)'/.exec(policy)?.[1] ?? ''
    assert.ok((await first.text()).includes(`nonce="${nonce}"`))
    assert.notEqual(second.headers.get('content-security-policy'), policy)
    // Plain HTTP (loopback): no HSTS, no upgrade.
    assert.equal(first.headers.get('strict-transport-security'), null)
    assert.doesNotMatch(policy, /upgrade-insecure-requests/)
  })

  test('behind TLS (X-Forwarded-Proto https): HSTS and upgraded requests', async () => {
    const response = await fetch(`${server.url}/`, {
      headers: { 'x-forwarded-proto': 'https' },
    })
    assert.match(response.headers.get('strict-transport-security') ?? '', /max-age=\d{8}/)
    assert.match(
      response.headers.get('content-security-policy') ?? '',
      /upgrade-insecure-requests/,
    )
  })

  test('API answers: a CSP that allows nothing, and the fixed headers', async () => {
    for (const path of ['/api/health', '/api/nothing-here']) {
      const response = await fetch(`${server.url}${path}`)
      assert.equal(
        response.headers.get('content-security-policy'),
        "default-src 'none'; frame-ancestors 'none'",
      )
      for (const [name, value] of Object.entries(COMMON)) {
        assert.equal(response.headers.get(name), value, `${path} ${name}`)
      }
    }
  })
})
