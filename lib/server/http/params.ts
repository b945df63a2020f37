import 'server-only'

import { deviceId, username } from '@/lib/core/api'

import { ApiError } from './api-error'

/** The `[username]` segment, lower-cased and checked. @throws {ApiError} */
export function usernameParam(params: Record<string, string>): string {
  const result = username.safeParse(params.username ?? '')
  if (!result.success) {
    throw new ApiError(
      'invalid-request',
      'username: expected 3 to 32 of a-z, 0-9 and _',
      {
        field: 'username',
      },
    )
  }
  return result.data
}

/** The `[linkId]` segment. @throws {ApiError} */
export function linkIdParam(params: Record<string, string>): string {
  const id = params.linkId ?? ''
  if (!/^[A-Za-z0-9_-]{12}$/.test(id)) {
    throw new ApiError('invalid-request', 'linkId: expected a link id', {
      field: 'linkId',
    })
  }
  return id
}

/** The `[deviceId]` segment. @throws {ApiError} */
export function deviceIdParam(params: Record<string, string>): string {
  const result = deviceId.safeParse(params.deviceId ?? '')
  if (!result.success) {
    throw new ApiError('invalid-request', 'deviceId: expected a device id', {
      field: 'deviceId',
    })
  }
  return result.data
}
