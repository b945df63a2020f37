/** A failure for the person to read, announced to screen readers; nothing when null. */
export function ErrorText({ error }: { error: string | null }) {
  if (!error) return null
  return (
    <p role="alert" className="error">
      {error}
    </p>
  )
}
