/**
 * The browser client's log: one named logger per module, lines prefixed
 * with it (`[receiver] envelope dropped`). Fields are ids, counts and error
 * names only: never message text, keys or credentials.
 */
type Fields = Record<string, string | number | boolean | null | undefined>

/** A logger for one module of the client. */
export function logger(module: string) {
  const line = (message: string, fields?: Fields) =>
    fields ? [`[${module}] ${message}`, fields] : [`[${module}] ${message}`]
  return {
    info: (message: string, fields?: Fields) => console.info(...line(message, fields)),
    warn: (message: string, fields?: Fields) => console.warn(...line(message, fields)),
    error: (message: string, fields?: Fields) => console.error(...line(message, fields)),
  }
}

/** An id shortened for logs: enough to tell devices apart, not to address them. */
export function shortId(id: string): string {
  return id.slice(0, 6)
}
