import type { MetadataRoute } from 'next'

// The web app manifest (/manifest.webmanifest): what a phone needs to put
// Tidings on its home screen and open it like an app.
export default function manifest(): MetadataRoute.Manifest {
  return {
    id: '/',
    name: 'Tidings',
    short_name: 'Tidings',
    description: 'An end-to-end-encrypted messenger you can host yourself.',
    start_url: '/',
    scope: '/',
    display: 'standalone',
    orientation: 'any',
    background_color: '#111b21',
    theme_color: '#008069',
    categories: ['social', 'communication'],
    icons: [
      { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
      { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
      {
        src: '/icons/maskable-512.png',
        sizes: '512x512',
        type: 'image/png',
        purpose: 'maskable',
      },
    ],
  }
}
