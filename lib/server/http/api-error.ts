import 'server-only'

/** Error codes the API answers with, and the HTTP status of each. */
export const ERROR_STATUS = {
  'invalid-request': 400,
  'unsupported-media-type': 415,
  'payload-too-large': 413,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  'method-not-allowed': 405,
  conflict: 409,
  'device-mismatch': 409,
  'rate-limited': 429,
  unavailable: 503,
  internal: 500,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

/**
 * An error the API answers with as it is: its code picks the status, its
 * message is safe to show the client. Anything else becomes a fixed 500.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError'

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly options: {
      field?: string
      headers?: Record<string, string>
      extra?: Record<string, unknown>
      cause?: unknown
    } = {},
  ) {
    super(message, { cause: options.cause })
  }

  get status(): number {
    return ERROR_STATUS[this.code]
  }
}
