import type { MessageStatus } from '@/lib/browser/db'

const LABEL: Record<MessageStatus, string> = {
  pending: 'Pending',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
  failed: 'Failed',
}

/** A clock, one grey tick, two grey, two blue, or a red mark; named for screen readers. */
export function Ticks({ status }: { status: MessageStatus }) {
  return (
    <span role="img" aria-label={LABEL[status]} className={`ticks ticks-${status}`}>
      <svg viewBox="0 0 18 12" width="18" height="12" aria-hidden="true">
        {status === 'pending' && (
          <g fill="none" stroke="currentColor" strokeWidth="1.3">
            <circle cx="9" cy="6" r="4.6" />
            <path d="M9 3.4V6l1.8 1.3" />
          </g>
        )}
        {status === 'failed' && (
          <g fill="currentColor">
            <circle cx="9" cy="6" r="5.5" />
            <path d="M8.3 2.8h1.4v4H8.3zM8.3 7.8h1.4v1.4H8.3z" fill="#fff" />
          </g>
        )}
        {status === 'sent' && (
          <path
            d="M4 6.3l2.6 2.6L12.5 3"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.5"
          />
        )}
        {(status === 'delivered' || status === 'read') && (
          <g fill="none" stroke="currentColor" strokeWidth="1.5">
            <path d="M1 6.3l2.6 2.6L9.5 3" />
            <path d="M6.5 8.4l0.5 0.5L13 3" />
          </g>
        )}
      </svg>
    </span>
  )
}
