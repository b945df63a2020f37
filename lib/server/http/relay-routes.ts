import 'server-only'

import type { IncomingMessage, ServerResponse } from 'node:http'

import { ackRequest, sendRequest } from '@/lib/core/api'

import { deliveryHub } from '../relay/hub'
import { acknowledge } from '../relay/queue'
import { sendMessage } from '../relay/send'
import { MAX_STREAMS_PER_DEVICE, serveStream } from '../relay/stream'
import { ApiError } from './api-error'
import {
  admit,
  clientAddress,
  errorAnswer,
  expectJson,
  MAX_BODY_BYTES,
  parse,
  parseJson,
  tooLarge,
} from './api-route'
import { LIMITS } from './rate-limit'

/**
 * The relay's hot paths, served by the custom server straight on Node's
 * HTTP objects: every message sent, every stream and every
 * acknowledgement. Through Next.js each request costs about 5 ms of CPU
 * in its routing alone, which would cap one process near 200 sends a
 * second; here a send costs well under a tenth of that (npm run bench).
 *
 * The steps and answers are those of every other route (admit, readJson,
 * parse, errorAnswer from api-route.ts): the same credential check, limits,
 * validation and error bodies.
 */
const ROUTES: Record<string, Partial<Record<string, Handler>>> = {
  '/api/messages': { POST: send },
  '/api/stream': { GET: stream },
  '/api/envelopes/ack': { POST: ack },
}

type Handler = (request: IncomingMessage, response: ServerResponse) => Promise<void>

/**
 * Serves the request when it is for one of the relay's routes.
 * @param headers - what every API answer carries (next.config.js)
 * @returns false when the request is for someone else (Next.js)
 */
export function serveRelayRoute(
  request: IncomingMessage,
  response: ServerResponse,
  headers: [string, string][],
): boolean {
  const path = (request.url ?? '/').split('?', 1)[0] ?? '/'
  const methods = ROUTES[path]
  if (!methods) return false

  for (const [name, value] of headers) response.setHeader(name, value)
  const handler = methods[request.method ?? 'GET']
  if (!handler) {
    const allowed = Object.keys(methods).join(', ')
    answerError(
      response,
      'route',
      new ApiError('method-not-allowed', `${path}: use ${allowed}`, {
        headers: { Allow: allowed },
      }),
    )
    return true
  }

  const operation = OPERATIONS.get(handler) ?? 'route'
  handler(request, response).catch((error: unknown) => {
    // A body refused half-read (too large) is not read on: the connection
    // closes after the answer.
    if (!request.complete) response.setHeader('Connection', 'close')
    answerError(response, operation, error)
  })
  return true
}

const OPERATIONS = new Map<Handler, string>([
  [send, 'send'],
  [stream, 'stream'],
  [ack, 'ack'],
])

/** POST /api/messages: store one message's envelopes for every device. */
async function send(request: IncomingMessage, response: ServerResponse) {
  const device = await admitted(request, 'send', LIMITS.send)
  const body = parse(sendRequest, await jsonBody(request), 'body')
  const receipt = await sendMessage(device, body.to, body.envelopes, {
    urgent: body.urgent ?? true,
  })
  answerJson(response, 200, receipt)
}

/** GET /api/stream: this device's envelopes as Server-Sent Events. */
async function stream(request: IncomingMessage, response: ServerResponse) {
  const device = await admitted(request, 'stream', LIMITS.read)
  const header = request.headers['last-event-id'] ?? '0'
  if (typeof header !== 'string' || !/^\d{1,15}$/.test(header)) {
    throw new ApiError('invalid-request', 'Last-Event-ID: expected a sequence number')
  }
  if (deliveryHub().streamsOf(device.deviceId) >= MAX_STREAMS_PER_DEVICE) {
    throw new ApiError('rate-limited', 'stream: too many open streams for this device', {
      headers: { 'Retry-After': '5' },
    })
  }
  serveStream(device, Number(header), response)
}

/** POST /api/envelopes/ack: delete envelopes this device has stored. */
async function ack(request: IncomingMessage, response: ServerResponse) {
  const device = await admitted(request, 'ack', LIMITS.read)
  const body = parse(ackRequest, await jsonBody(request), 'body')
  answerJson(response, 200, { deleted: await acknowledge(device.deviceId, body.seqs) })
}

async function admitted(
  request: IncomingMessage,
  operation: string,
  limit: (typeof LIMITS)[keyof typeof LIMITS],
) {
  const forwardedFor = request.headers['x-forwarded-for']
  const device = await admit(
    { operation, auth: true, limit },
    header(request, 'authorization'),
    () => clientAddress(typeof forwardedFor === 'string' ? forwardedFor : null),
  )
  if (!device) throw new Error(`${operation}: admitted without a device`)
  return device
}

/**
 * The request's JSON body, read with plain listeners: an async iterator
 * over the request costs more than the rest of reading it.
 */
function jsonBody(request: IncomingMessage): Promise<unknown> {
  expectJson(header(request, 'content-type'), header(request, 'content-length'))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (error: Error | null, body?: unknown) => {
      request.off('data', onData)
      request.off('end', onEnd)
      request.off('error', onError)
      request.off('close', onClose)
      if (error) reject(error)
      else resolve(body)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        // Not read on: the answer closes the connection (serveRelayRoute).
        request.pause()
        settle(tooLarge())
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      try {
        settle(null, parseJson(chunks))
      } catch (error) {
        settle(error as Error)
      }
    }
    const onError = (error: Error) => settle(error)
    const onClose = () => settle(new Error('body: the client went away'))
    request.on('data', onData)
    request.on('end', onEnd)
    request.on('error', onError)
    request.on('close', onClose)
  })
}

function header(request: IncomingMessage, name: string): string | null {
  const value = request.headers[name]
  return typeof value === 'string' ? value : null
}

function answerJson(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  })
  response.end(text)
}

function answerError(response: ServerResponse, operation: string, error: unknown): void {
  const { status, headers, body } = errorAnswer(operation, error)
  if (response.headersSent) {
    // A stream that failed after its headers: all that is left is to end it.
    response.end()
    return
  }
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value)
  answerJson(response, status, body)
}
