import { ApiError } from '@/lib/server/http/api-error'
import { errorResponse } from '@/lib/server/http/api-route'

// Any other /api path: a JSON 404 rather than the HTML page.
function notFound(request: Request): Response {
  const path = new URL(request.url).pathname
  return errorResponse('route', new ApiError('not-found', `${path}: no such API route`))
}

export const GET = notFound
export const POST = notFound
export const PUT = notFound
export const DELETE = notFound
export const PATCH = notFound
