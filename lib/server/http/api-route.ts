import 'server-only'

import { type z } from 'zod'

import { authenticate, type DeviceIdentity } from '../auth/credentials'
import { isTransient } from '../db/errors'
import { logger } from '../log'
import { ApiError } from './api-error'
import { takeToken, type RateLimit } from './rate-limit'

const log = logger('api')

/**
 * Largest request body accepted: a full fan-out of 12 envelopes of 96 KiB,
 * base64-encoded, with room for the JSON around them.
 */
export const MAX_BODY_BYTES = 1_700_000

type Schema = z.ZodType

interface RouteOptions<B extends Schema | undefined, Q extends Schema | undefined> {
  /** Names the operation in logs and errors, e.g. "send". */
  operation: string
  /** Whether a device credential is required. */
  auth: boolean
  body?: B
  query?: Q
  /** Counted per device when authenticated, else per client address. */
  limit?: RateLimit
}

interface RouteContext<B, Q, A extends boolean> {
  request: Request
  device: A extends true ? DeviceIdentity : undefined
  body: B extends Schema ? z.output<B> : undefined
  query: Q extends Schema ? z.output<Q> : undefined
  params: Record<string, string>
}

type NextContext = { params: Promise<Record<string, string | string[]>> }

/**
 * Wraps a route handler with the steps every API route shares: rate limit,
 * authentication, content type, size cap, JSON and schema validation, and
 * error mapping. The handler returns a Response or a JSON-able value (200).
 *
 * Bad input answers 4xx with the field and what was wrong; an unexpected
 * failure answers a fixed 500 and is logged here with the operation's name.
 */
export function apiRoute<
  A extends boolean,
  B extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
>(
  options: RouteOptions<B, Q> & { auth: A },
  handler: (context: RouteContext<B, Q, A>) => Promise<Response | object>,
) {
  return async (request: Request, next?: NextContext): Promise<Response> => {
    try {
      // Limitation: made-up credentials are not rate limited before their
      // lookup; each costs one indexed read on the store.
      const device = options.auth
        ? await authenticate(request.headers.get('authorization'))
        : undefined

      if (options.limit) {
        const key = device?.deviceId ?? clientAddress(request)
        const retryAfter = takeToken(options.limit, key)
        if (retryAfter > 0) {
          throw new ApiError('rate-limited', `${options.operation}: too many requests`, {
            headers: { 'Retry-After': String(retryAfter) },
          })
        }
      }

      const body = options.body
        ? parse(options.body, await readJson(request), 'body')
        : undefined
      const query = options.query
        ? parse(
            options.query,
            Object.fromEntries(new URL(request.url).searchParams),
            'query',
          )
        : undefined
      const params = await readParams(next)

      const result = await handler({
        request,
        device,
        body,
        query,
        params,
      } as RouteContext<B, Q, A>)
      return result instanceof Response ? result : Response.json(result)
    } catch (error) {
      return errorResponse(options.operation, error)
    }
  }
}

/** Turns any thrown value into the API's error answer. */
export function errorResponse(operation: string, error: unknown): Response {
  if (error instanceof ApiError) {
    const body = {
      error: {
        code: error.code,
        message: error.message,
        ...(error.options.field ? { field: error.options.field } : {}),
      },
      ...error.options.extra,
    }
    return Response.json(body, { status: error.status, headers: error.options.headers })
  }

  if (isTransient(error)) {
    // Overload, not a fault: nothing was written and the client retries.
    log.warn({ operation, err: error }, 'store busy; asked the client to retry')
    return errorResponse(
      operation,
      new ApiError('unavailable', `${operation}: the server is busy; try again`, {
        headers: { 'Retry-After': '1' },
      }),
    )
  }

  log.error({ operation, err: error }, 'unexpected failure')
  return Response.json(
    { error: { code: 'internal', message: `${operation}: internal error` } },
    { status: 500 },
  )
}

function parse<S extends Schema>(schema: S, input: unknown, where: string): z.output<S> {
  const result = schema.safeParse(input)
  if (result.success) return result.data

  const issue = result.error.issues[0]
  const field = issue?.path.length ? issue.path.join('.') : undefined
  const at = field ? `${where}.${field}` : where
  throw new ApiError('invalid-request', `${at}: ${issue?.message ?? 'invalid'}`, {
    field,
  })
}

async function readJson(request: Request): Promise<unknown> {
  const type = request.headers.get('content-type') ?? ''
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError(
      'unsupported-media-type',
      'body: expected Content-Type application/json',
    )
  }
  const declared = Number(request.headers.get('content-length') ?? 0)
  if (declared > MAX_BODY_BYTES) throw tooLarge()

  const reader = request.body?.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  while (reader) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.length
    if (size > MAX_BODY_BYTES) {
      await reader.cancel()
      throw tooLarge()
    }
    chunks.push(value)
  }

  const text = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks))
  try {
    return JSON.parse(text)
  } catch {
    throw new ApiError('invalid-request', 'body: expected a JSON document')
  }
}

function tooLarge(): ApiError {
  return new ApiError('payload-too-large', `body: larger than ${MAX_BODY_BYTES} bytes`)
}

async function readParams(next?: NextContext): Promise<Record<string, string>> {
  const raw = (await next?.params) ?? {}
  const params: Record<string, string> = {}
  for (const [key, value] of Object.entries(raw)) {
    params[key] = Array.isArray(value) ? value.join('/') : value
  }
  return params
}

/**
 * The caller's address for per-address limits: the last X-Forwarded-For
 * entry, the one our own proxy appended (earlier ones are the client's word).
 *
 * Limitation: Next.js route handlers do not see the peer address, so without
 * TRUST_PROXY every unauthenticated caller shares one bucket, and one client
 * can slow registration and login for all; run behind a proxy in production.
 */
function clientAddress(request: Request): string {
  if (process.env.TRUST_PROXY !== '1') return 'direct'
  return request.headers.get('x-forwarded-for')?.split(',').pop()?.trim() || 'unknown'
}
