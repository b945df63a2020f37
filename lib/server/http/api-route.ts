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
      const device = await admit(options, request.headers.get('authorization'), () =>
        clientAddress(request.headers.get('x-forwarded-for')),
      )
      const body = options.body
        ? parse(
            options.body,
            await readJson(
              request.headers.get('content-type'),
              request.headers.get('content-length'),
              // Node's web streams are async iterables; the DOM typings lag.
              request.body as AsyncIterable<Uint8Array> | null,
            ),
            'body',
          )
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

/**
 * The first steps of every API request: the credential, when the route
 * needs one, then a token from the route's rate limit, counted per device
 * when authenticated, else per client address.
 * @returns the device, or undefined for a route without authentication
 * @throws {ApiError} unauthorized, or rate-limited with Retry-After
 */
export async function admit(
  options: { operation: string; auth: boolean; limit?: RateLimit },
  authorization: string | null,
  address: () => string,
): Promise<DeviceIdentity | undefined> {
  // Limitation: made-up credentials are not rate limited before their
  // lookup; each costs one indexed read on the store.
  const device = options.auth ? await authenticate(authorization) : undefined

  if (options.limit) {
    const retryAfter = takeToken(options.limit, device?.deviceId ?? address())
    if (retryAfter > 0) {
      throw new ApiError('rate-limited', `${options.operation}: too many requests`, {
        headers: { 'Retry-After': String(retryAfter) },
      })
    }
  }
  return device
}

/** An API error answer: its status, headers and JSON body. */
export interface ErrorAnswer {
  status: number
  headers: Record<string, string>
  body: object
}

/**
 * Turns any thrown value into the API's error answer. Bad input answers
 * 4xx with the field and what was wrong; a busy store 503; anything else a
 * fixed 500, logged here with the operation's name.
 */
export function errorAnswer(operation: string, error: unknown): ErrorAnswer {
  if (error instanceof ApiError) {
    const body = {
      error: {
        code: error.code,
        message: error.message,
        ...(error.options.field ? { field: error.options.field } : {}),
      },
      ...error.options.extra,
    }
    return { status: error.status, headers: error.options.headers ?? {}, body }
  }

  if (isTransient(error)) {
    // Overload, not a fault: nothing was written and the client retries.
    log.warn({ operation, err: error }, 'store busy; asked the client to retry')
    return errorAnswer(
      operation,
      new ApiError('unavailable', `${operation}: the server is busy; try again`, {
        headers: { 'Retry-After': '1' },
      }),
    )
  }

  log.error({ operation, err: error }, 'unexpected failure')
  return {
    status: 500,
    headers: {},
    body: { error: { code: 'internal', message: `${operation}: internal error` } },
  }
}

/** The error answer as a web Response, for route handlers. */
export function errorResponse(operation: string, error: unknown): Response {
  const { status, headers, body } = errorAnswer(operation, error)
  return Response.json(body, { status, headers })
}

/**
 * Validates input against a schema.
 * @throws {ApiError} invalid-request naming the first bad field, as `where.field`
 */
export function parse<S extends Schema>(
  schema: S,
  input: unknown,
  where: string,
): z.output<S> {
  const result = schema.safeParse(input)
  if (result.success) return result.data

  const issue = result.error.issues[0]
  const field = issue?.path.length ? issue.path.join('.') : undefined
  const at = field ? `${where}.${field}` : where
  throw new ApiError('invalid-request', `${at}: ${issue?.message ?? 'invalid'}`, {
    field,
  })
}

/**
 * Reads a JSON body of at most MAX_BODY_BYTES, stopping as soon as it is
 * larger (a declared Content-Length is believed only when it is too big).
 * @throws {ApiError} for a wrong content type, a body too large or not JSON
 */
export async function readJson(
  contentType: string | null,
  contentLength: string | null,
  body: AsyncIterable<Uint8Array> | null,
): Promise<unknown> {
  expectJson(contentType, contentLength)

  const chunks: Uint8Array[] = []
  let size = 0
  // Leaving the loop early cancels the rest of the body.
  for await (const chunk of body ?? []) {
    size += chunk.length
    if (size > MAX_BODY_BYTES) throw tooLarge()
    chunks.push(chunk)
  }
  return parseJson(chunks)
}

/**
 * The checks of readJson() that come before the body: its type, and a
 * declared length too large.
 * @throws {ApiError} unsupported-media-type or payload-too-large
 */
export function expectJson(
  contentType: string | null,
  contentLength: string | null,
): void {
  if (!/^application\/json\s*(;|$)/i.test(contentType ?? '')) {
    throw new ApiError(
      'unsupported-media-type',
      'body: expected Content-Type application/json',
    )
  }
  if (Number(contentLength ?? 0) > MAX_BODY_BYTES) throw tooLarge()
}

/**
 * Parses a body read in chunks (invalid UTF-8 becomes U+FFFD, as
 * TextDecoder would, and then fails as JSON or as a field).
 * @throws {ApiError} invalid-request when it is not a JSON document
 */
export function parseJson(chunks: Uint8Array[]): unknown {
  const text = Buffer.concat(chunks).toString('utf8')
  try {
    return JSON.parse(text)
  } catch {
    throw new ApiError('invalid-request', 'body: expected a JSON document')
  }
}

/** The answer to a body larger than MAX_BODY_BYTES. */
export function tooLarge(): ApiError {
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
export function clientAddress(forwardedFor: string | null): string {
  if (process.env.TRUST_PROXY !== '1') return 'direct'
  return forwardedFor?.split(',').pop()?.trim() || 'unknown'
}
