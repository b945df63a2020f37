import 'server-only'

/** A token bucket: `burst` requests at once, refilled at `perSecond`. */
export interface RateLimit {
  name: string
  burst: number
  perSecond: number
}

/**
 * Per-device and per-address limits. A send carries a message's whole
 * fan-out (up to 12 envelopes), so 20 sends a second sustained is far above
 * what a person types and still stops a runaway client.
 */
export const LIMITS = {
  send: { name: 'send', burst: 200, perSecond: 20 },
  keyFetch: { name: 'key-fetch', burst: 60, perSecond: 0.5 },
  keyUpload: { name: 'key-upload', burst: 20, perSecond: 0.2 },
  register: { name: 'register', burst: 20, perSecond: 0.2 },
  login: { name: 'login', burst: 30, perSecond: 0.5 },
  read: { name: 'read', burst: 300, perSecond: 50 },
} as const satisfies Record<string, RateLimit>

interface Bucket {
  tokens: number
  updatedAt: number
}

const BUCKETS = Symbol.for('tidings.rate-buckets')
type Holder = typeof globalThis & { [BUCKETS]?: Map<string, Bucket> }

function buckets(): Map<string, Bucket> {
  const holder = globalThis as Holder
  holder[BUCKETS] ??= new Map()
  return holder[BUCKETS]
}

/**
 * Takes one token for `key` under `limit`.
 * @returns 0 when allowed, else the seconds to wait before retrying
 */
export function takeToken(limit: RateLimit, key: string, now = Date.now()): number {
  const map = buckets()
  const id = `${limit.name}:${key}`
  const bucket = map.get(id) ?? { tokens: limit.burst, updatedAt: now }

  const refill = ((now - bucket.updatedAt) / 1000) * limit.perSecond
  bucket.tokens = Math.min(limit.burst, bucket.tokens + refill)
  bucket.updatedAt = now

  if (bucket.tokens >= 1) {
    bucket.tokens -= 1
    map.set(id, bucket)
    return 0
  }
  map.set(id, bucket)
  // Limitation: buckets live in this process; behind a balancer spreading
  // one device over N instances it gets up to N times its limit. Shared
  // buckets in Redis would add a round trip to every request.
  return Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond))
}

/** Drops buckets that have refilled completely, so the map stays small. */
export function sweepBuckets(now = Date.now()): void {
  for (const [id, bucket] of buckets()) {
    if (now - bucket.updatedAt > 10 * 60 * 1000) buckets().delete(id)
  }
}
