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
  // `next dev` would otherwise write an AGENTS.md into the repository.
  agentRules: false,
  experimental: { agentUpgrade: false },
}

export default nextConfig
