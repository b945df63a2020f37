import { NextResponse, type NextRequest } from 'next/server'

/**
 * The page's Content-Security-Policy, with a fresh nonce per request: the
 * App Router's inline bootstrap scripts carry it (Next.js reads the nonce
 * from this request header), and 'strict-dynamic' lets the scripts they
 * load run. No 'unsafe-eval', no 'unsafe-inline' scripts, no framing.
 * Headers every response gets are in next.config.js.
 */
export function proxy(request: NextRequest): NextResponse {
  const nonce = btoa(crypto.randomUUID())
  const https = servedOverHttps(request)
  const policy = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'`,
    // React sets no style attributes here, but Next.js injects a few style tags.
    `style-src 'self' 'nonce-${nonce}'`,
    // QR codes are drawn to data: URLs; the camera preview is a media stream.
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    ...(https ? ['upgrade-insecure-requests'] : []),
  ].join('; ')

  const headers = new Headers(request.headers)
  headers.set('content-security-policy', policy)
  const response = NextResponse.next({ request: { headers } })
  response.headers.set('content-security-policy', policy)
  if (https) {
    response.headers.set(
      'strict-transport-security',
      'max-age=63072000; includeSubDomains',
    )
  }
  return response
}

/**
 * Whether the browser reached us over TLS, directly or through a proxy in
 * front (Next.js takes the protocol from its X-Forwarded-Proto). A client
 * that fakes the header only hardens its own browser.
 */
function servedOverHttps(request: NextRequest): boolean {
  return request.nextUrl.protocol === 'https:'
}

export const config = {
  // Documents only: API answers, static files and the worker get the fixed
  // headers of next.config.js and skip this per-request step.
  matcher: [
    '/((?!api/|_next/static/|_next/image|icons/|sw\\.js|manifest\\.webmanifest).*)',
  ],
}
