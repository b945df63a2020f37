// @ts-check

/**
 * Next.js configuration for Tidings.
 * @type {import('next').NextConfig}
 */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // Native and wasm-backed database drivers load from node_modules at run time.
  serverExternalPackages: ['better-sqlite3', '@prisma/adapter-better-sqlite3', 'pino'],
  // Security headers for every answer; the page's Content-Security-Policy,
  // which needs a nonce per request, comes from proxy.ts.
  async headers() {
    return [
      {
        source: '/:path*',
        headers: [
          { key: 'X-Content-Type-Options', value: 'nosniff' },
          { key: 'Referrer-Policy', value: 'no-referrer' },
          { key: 'X-Frame-Options', value: 'DENY' },
          { key: 'Cross-Origin-Opener-Policy', value: 'same-origin' },
          {
            key: 'Permissions-Policy',
            // The camera scans link codes; nothing else is asked for.
            value:
              'camera=(self), microphone=(), geolocation=(), payment=(), usb=(), ' +
              'interest-cohort=(), browsing-topics=()',
          },
        ],
      },
      {
        // JSON and the worker script are never documents to render.
        source: '/api/:path*',
        headers: [
          {
            key: 'Content-Security-Policy',
            value: "default-src 'none'; frame-ancestors 'none'",
          },
        ],
      },
    ]
  },
  // `next dev` would otherwise write an AGENTS.md into the repository.
  agentRules: false,
  experimental: { agentUpgrade: false },
}

export default nextConfig
