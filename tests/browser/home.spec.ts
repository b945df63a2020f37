import { expect, test } from './fixtures'

test('a visitor opening Tidings in Chromium sees the app running', async ({
  page,
  server,
}) => {
  await page.goto(server.url)

  await expect(page).toHaveTitle('Tidings')
  await expect(page.getByRole('heading', { name: 'Tidings' })).toBeVisible()
})

test('the health check answers JSON from the real store', async ({ request, server }) => {
  const response = await request.get(`${server.url}/api/health`)

  expect(response.status()).toBe(200)
  expect(await response.json()).toEqual({ ok: true })
})
