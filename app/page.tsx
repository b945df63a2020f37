// The home page. The messenger itself (onboarding, chats) is the browser
// client's work; until then this page says what is running.
export default function Home() {
  return (
    <main
      style={{ fontFamily: 'system-ui, sans-serif', maxWidth: 640, margin: '10vh auto' }}
    >
      <h1>Tidings</h1>
      <p>
        The relay is running: devices register, publish their keys and exchange end-to-end
        encrypted envelopes through <code>/api</code>.
      </p>
    </main>
  )
}
