'use client'

import { useState, type FormEvent } from 'react'

import { conversationList } from '@/lib/browser/db'
import { formatListTime } from '@/lib/browser/format'
import { UserFacingError, type Messenger } from '@/lib/browser/messenger'

import { ErrorText } from './error-text'
import { NotificationOffer } from './notifications'
import { useLive } from './use-live'

const CONNECTION_TEXT = {
  connecting: 'Connecting…',
  offline: 'Waiting for network…',
  online: null,
} as const

interface Props {
  messenger: Messenger
  openId: string | null
  onOpen: (conversation: string) => void
  onDevices: () => void
}

/** The left column: account, actions, and the chats, most recent first. */
export function ChatList({ messenger, openId, onOpen, onDevices }: Props) {
  const chats = useLive(messenger, conversationList, 'chats') ?? []
  const history = useLive(messenger, () => messenger.historyProgress(), 'history')
  const [adding, setAdding] = useState(false)
  const connection = CONNECTION_TEXT[messenger.connection]

  return (
    <aside className="sidebar">
      <header className="bar">
        <div className="who">
          <h1>Tidings</h1>
          <p className="sub">{connection ?? messenger.username}</p>
        </div>
        <button type="button" onClick={() => setAdding((open) => !open)}>
          New chat
        </button>
        <button type="button" onClick={onDevices}>
          Linked devices
        </button>
      </header>

      <NotificationOffer messenger={messenger} />

      {adding && (
        <NewChat
          messenger={messenger}
          onStarted={(id) => {
            setAdding(false)
            onOpen(id)
          }}
        />
      )}

      {/* Limitation: if the linking device never sends the history, this waits on. */}
      {history && (history.parts === 0 || history.received.length < history.parts) && (
        <div className="history">
          <label htmlFor="history-progress">
            {history.parts === 0
              ? 'Waiting for your history…'
              : `Receiving your history: ${history.received.length} of ${history.parts}`}
          </label>
          <progress
            id="history-progress"
            max={Math.max(1, history.parts)}
            value={history.parts === 0 ? undefined : history.received.length}
          />
        </div>
      )}

      <ul aria-label="Chats" className="chats">
        {chats.map((chat) => (
          <li key={chat.id} className={chat.id === openId ? 'chat open' : 'chat'}>
            <button type="button" onClick={() => onOpen(chat.id)}>
              <span className="avatar" aria-hidden="true">
                {chat.id.slice(0, 1).toUpperCase()}
              </span>
              <span className="summary">
                <span className="line">
                  <span className="name">{chat.id}</span>
                  <span className="time">{formatListTime(chat.lastAt)}</span>
                </span>
                <span className="line">
                  <span className="preview">{chat.lastText}</span>
                  {chat.unread > 0 && (
                    <span className="badge">
                      {chat.unread}
                      <span className="visually-hidden"> unread</span>
                    </span>
                  )}
                </span>
              </span>
            </button>
          </li>
        ))}
      </ul>
      {chats.length === 0 && (
        <p className="hint">No chats yet. Start one with “New chat”.</p>
      )}
    </aside>
  )
}

function NewChat({
  messenger,
  onStarted,
}: {
  messenger: Messenger
  onStarted: (id: string) => void
}) {
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const start = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      onStarted(await messenger.startChat(name))
    } catch (failure) {
      setError(
        failure instanceof UserFacingError
          ? failure.message
          : 'Starting the chat failed.',
      )
    } finally {
      setBusy(false)
    }
  }

  return (
    <form className="new-chat" onSubmit={(event) => void start(event)}>
      <label htmlFor="contact">Contact username</label>
      <input
        id="contact"
        value={name}
        onChange={(event) => setName(event.target.value)}
        autoComplete="off"
        autoCapitalize="none"
        spellCheck={false}
        required
        autoFocus
      />
      <button type="submit" className="primary" disabled={busy}>
        Start chat
      </button>
      <ErrorText error={error} />
    </form>
  )
}
