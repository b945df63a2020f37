/** A problem the person can act on, in words for them. */
export class UserFacingError extends Error {
  override name = 'UserFacingError'
}
