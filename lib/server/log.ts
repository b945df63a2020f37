import 'server-only'

import pino from 'pino'

/**
 * Field names whose values never reach a log line: credentials, key
 * material, message content and push endpoints.
 */
const SECRET_FIELDS = [
  'authorization',
  'token',
  'content',
  'signature',
  'identityKey',
  'publicKey',
  'endpoint',
  'nonce',
]

const root = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: undefined,
  redact: {
    paths: [...SECRET_FIELDS, ...SECRET_FIELDS.map((field) => `*.${field}`)],
    censor: '[redacted]',
  },
})

/** A named logger for one module, e.g. `logger('relay')`. */
export function logger(module: string): pino.Logger {
  return root.child({ module })
}

/**
 * Shortens an id for logs: enough to correlate lines, not enough to name
 * a device or account outside them.
 */
export function redactId(id: string): string {
  return id.length <= 6 ? '…' : `${id.slice(0, 6)}…`
}
