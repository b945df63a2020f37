// Runs once when a server instance starts (Next.js instrumentation hook).
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return
  const { startMaintenance } = await import('./lib/server/maintenance')
  startMaintenance()
}
