/**
 * Times and dates as the chat shows them, in the browser's locale and zone.
 */
const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' })
const dayMonth = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' })
const fullDate = new Intl.DateTimeFormat(undefined, {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
})
const DAY_MS = 24 * 60 * 60 * 1000

/** "14:02". */
export function formatTime(at: number): string {
  return time.format(at)
}

/** The local calendar day of a time, as a number that sorts. */
export function dayOf(at: number): number {
  const date = new Date(at)
  return date.getFullYear() * 10_000 + (date.getMonth() + 1) * 100 + date.getDate()
}

/** "Today", "Yesterday", "3 Dec", or "3 Dec 2025" for another year. */
export function formatDay(at: number, now = Date.now()): string {
  if (dayOf(at) === dayOf(now)) return 'Today'
  if (dayOf(at) === dayOf(now - DAY_MS)) return 'Yesterday'
  const sameYear = new Date(at).getFullYear() === new Date(now).getFullYear()
  return sameYear ? dayMonth.format(at) : fullDate.format(at)
}

/** The chat list's time: "14:02" today, else the day. */
export function formatListTime(at: number, now = Date.now()): string {
  return dayOf(at) === dayOf(now) ? formatTime(at) : formatDay(at, now)
}

/** The chat header's presence line. */
export function formatPresence(presence: {
  online: boolean
  lastSeenAt: number
}): string {
  if (presence.online) return 'online'
  if (presence.lastSeenAt <= 0) return ''
  const day = formatDay(presence.lastSeenAt)
  const when = day === 'Today' || day === 'Yesterday' ? day.toLowerCase() : day
  return `last seen ${when} at ${formatTime(presence.lastSeenAt)}`
}
