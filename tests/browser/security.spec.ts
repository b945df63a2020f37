/**
 * The page under its production Content-Security-Policy: the app registers,
 * chats and shows QR codes with no script, style or connection refused, and
 * injected markup's inline script does not run.
 */
import { send, startChat, tick } from './chat'
import { expect, test } from './fixtures'

test('the app runs under its CSP with nothing refused; an injected script does not run', async ({
  person,
}) => {
  const alice = await person('alice')
  const refusals: string[] = []
  alice.page.on('console', (entry) => {
    if (/Content Security Policy/i.test(entry.text())) refusals.push(entry.text())
  })
  await alice.page.reload()

  const policy = (await alice.page.request.get('/')).headers()['content-security-policy']
  expect(policy).toContain("frame-ancestors 'none'")
  expect(policy).not.toContain('unsafe-eval')
  expect(policy).not.toContain('unsafe-inline')

  const bob = await person('bob')
  await startChat(alice.page, bob.username)
  await send(alice.page, 'Policy check')
  await expect(tick(alice.page, 'Policy check')).toHaveAccessibleName('Delivered')
  await alice.page.getByRole('button', { name: 'Linked devices' }).click()
  await alice.page.getByRole('button', { name: 'Link a new device' }).click()
  await expect(alice.page.getByRole('img', { name: /QR code/ })).toBeVisible()
  expect(refusals).toEqual([])

  // What an HTML injection would try: markup with an inline event handler.
  const ran = await alice.page.evaluate(async () => {
    const holder = document.createElement('div')
    holder.innerHTML = '<img src="/missing.png" onerror="window.__injected = true">'
    document.body.append(holder)
    await new Promise((resolve) => setTimeout(resolve, 500))
    return (window as { __injected?: boolean }).__injected === true
  })
  expect(ran).toBe(false)
  await expect.poll(() => refusals.length).toBe(1)
})
