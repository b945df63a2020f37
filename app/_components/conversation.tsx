'use client'

import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react'

import { conversationMessages, type MessageRecord } from '@/lib/browser/db'
import { dayOf, formatDay, formatPresence, formatTime } from '@/lib/browser/format'
import { UserFacingError, type Messenger } from '@/lib/browser/messenger'

import { ErrorText } from './error-text'
import { Ticks } from './ticks'
import { useLive, useVersion } from './use-live'

/** A shield with a tick: the safety-number button's icon. */
const SHIELD_PATH =
  'M12 2 4 5v6c0 5 3.4 9.7 8 11 4.6-1.3 8-6 8-11V5l-8-3Z' +
  'm-1.2 14.2-3.5-3.5 1.4-1.4 2.1 2.1 4.9-4.9 1.4 1.4-6.3 6.3Z'

/** How often the header asks whether the contact is online. */
const PRESENCE_POLL_MS = 20_000

interface Props {
  messenger: Messenger
  conversation: string
  onBack: () => void
}

/** One chat: header with presence, the messages, and the composer. */
export function Conversation({ messenger, conversation, onBack }: Props) {
  const version = useVersion(messenger)
  const messages =
    useLive(messenger, () => conversationMessages(conversation), conversation) ?? []
  const warnings = useLive(
    messenger,
    () => messenger.warnings(conversation),
    conversation,
  )
  const presence = usePresence(messenger, conversation)
  const [showNumber, setShowNumber] = useState(false)
  const list = useRef<HTMLOListElement>(null)

  // Messages shown while the page is visible are read: clear the unread
  // count and send read receipts (batched by the outbox).
  useEffect(() => {
    const read = () => {
      if (document.visibilityState === 'visible') void messenger.markRead(conversation)
    }
    read()
    document.addEventListener('visibilitychange', read)
    return () => document.removeEventListener('visibilitychange', read)
  }, [messenger, conversation, version])

  // Keep the newest message in view.
  useLayoutEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: 'end' })
  }, [messages.length])

  return (
    <section className="conversation" aria-label={`Chat with ${conversation}`}>
      <header className="bar">
        <button type="button" className="back" onClick={onBack}>
          Back
        </button>
        <span className="avatar" aria-hidden="true">
          {conversation.slice(0, 1).toUpperCase()}
        </span>
        <div className="who">
          <h2>{conversation}</h2>
          <p className="sub">{presence}</p>
        </div>
        <button
          type="button"
          className="icon"
          aria-label="Verify safety number"
          title="Verify safety number"
          onClick={() => setShowNumber(true)}
        >
          <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
            <path d={SHIELD_PATH} fill="currentColor" />
          </svg>
        </button>
      </header>

      {warnings?.listRejected && (
        <div role="alert" className="warning">
          <p>
            The list of {conversation}’s devices does not carry their signature: the
            server may be trying to add a device of its own. Messages to them are not
            sent.
          </p>
        </div>
      )}

      {warnings?.identityChanged && (
        <div role="alert" className="warning">
          <p>
            The safety number with {conversation} changed: they may have reinstalled, or
            someone may be trying to listen in. Compare safety numbers before sharing
            anything sensitive.
          </p>
          <button
            type="button"
            onClick={() => void messenger.dismissIdentityChange(conversation)}
          >
            OK
          </button>
        </div>
      )}

      <ol aria-label="Messages" className="messages" ref={list}>
        {messages.map((message, index) => (
          <Bubble
            key={message.id}
            message={message}
            newDay={
              index === 0 || dayOf(messages[index - 1].sentAt) !== dayOf(message.sentAt)
            }
          />
        ))}
      </ol>

      <Composer messenger={messenger} conversation={conversation} />

      {showNumber && (
        <SafetyNumber
          messenger={messenger}
          conversation={conversation}
          onClose={() => setShowNumber(false)}
        />
      )}
    </section>
  )
}

function Bubble({ message, newDay }: { message: MessageRecord; newDay: boolean }) {
  return (
    <li className={message.outgoing ? 'message out' : 'message in'}>
      {newDay && (
        <span className="day">
          <span>{formatDay(message.sentAt)}</span>
        </span>
      )}
      <span className="bubble">
        <span className="text">{message.body}</span>
        <span className="meta">
          <time dateTime={new Date(message.sentAt).toISOString()}>
            {formatTime(message.sentAt)}
          </time>
          {message.outgoing && <Ticks status={message.status} />}
        </span>
      </span>
    </li>
  )
}

function Composer({
  messenger,
  conversation,
}: {
  messenger: Messenger
  conversation: string
}) {
  const [text, setText] = useState('')
  const [error, setError] = useState<string | null>(null)
  // The text stays in the box until the message is stored on the device:
  // a reload a moment after Send then loses nothing that looked sent.
  const storing = useRef(false)

  const send = () => {
    if (!text.trim() || storing.current) return
    const body = text
    storing.current = true
    setError(null)
    // Started before the re-render, so encryption does not wait for a frame.
    void messenger
      .sendText(conversation, body)
      .then(
        // Whatever was typed meanwhile stays.
        () => setText((current) => (current === body ? '' : current)),
        (failure: unknown) =>
          setError(
            failure instanceof UserFacingError ? failure.message : 'Sending failed.',
          ),
      )
      .finally(() => {
        storing.current = false
      })
  }

  // Enter sends; Shift+Enter breaks the line (and IME composition is left alone).
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault()
      send()
    }
  }

  return (
    <form
      className="composer"
      onSubmit={(event) => {
        event.preventDefault()
        send()
      }}
    >
      <textarea
        aria-label="Message"
        placeholder="Message"
        rows={1}
        value={text}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <button type="submit" className="primary">
        Send
      </button>
      <ErrorText error={error} />
    </form>
  )
}

/** "online" or "last seen …", asked on open and every 20 seconds. */
function usePresence(messenger: Messenger, conversation: string): string {
  const [text, setText] = useState('')
  useEffect(() => {
    let active = true
    const ask = () =>
      messenger.presence(conversation).then(
        (presence) => active && setText(formatPresence(presence)),
        () => active && setText(''),
      )
    void ask()
    const timer = setInterval(() => void ask(), PRESENCE_POLL_MS)
    return () => {
      active = false
      clearInterval(timer)
    }
  }, [messenger, conversation])
  return text
}

function SafetyNumber({
  messenger,
  conversation,
  onClose,
}: {
  messenger: Messenger
  conversation: string
  onClose: () => void
}) {
  const groups = useLive(
    messenger,
    () => messenger.safetyNumber(conversation),
    conversation,
  )
  const close = useRef<HTMLButtonElement>(null)
  useEffect(() => close.current?.focus(), [])

  return (
    <div className="overlay">
      <div
        role="dialog"
        aria-modal="true"
        aria-labelledby="safety-title"
        className="dialog"
      >
        <h2 id="safety-title">Safety number</h2>
        <p>
          Compare these numbers with {conversation}, in person or on a call. If they
          match, your messages reach only them.
        </p>
        <p className="safety-number">
          {(groups ?? []).map((group, index) => (
            <span key={index}>{group}</span>
          ))}
        </p>
        <button type="button" ref={close} className="primary" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  )
}
