import 'server-only'

import { username } from '@/lib/core/api'

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
