'use client'

import { useEffect, useRef, useState } from 'react'

/** The part of the Barcode Detection API used here (not in TypeScript's DOM types yet). */
interface BarcodeDetectorLike {
  detect(source: HTMLVideoElement): Promise<{ rawValue: string }[]>
}
type DetectorConstructor = new (options: { formats: string[] }) => BarcodeDetectorLike

function detectorConstructor(): DetectorConstructor | null {
  const candidate = (window as unknown as { BarcodeDetector?: DetectorConstructor })
    .BarcodeDetector
  const camera = 'mediaDevices' in navigator && 'getUserMedia' in navigator.mediaDevices
  return candidate && camera ? candidate : null
}

/**
 * "Scan QR code": reads a link code with the camera where the browser has
 * BarcodeDetector (Chrome on Android, Safari 17+ behind a flag); elsewhere
 * nothing is shown and the code is typed.
 */
export function ScanCode({ onCode }: { onCode: (text: string) => void }) {
  const [supported, setSupported] = useState(false)
  const [scanning, setScanning] = useState(false)
  const video = useRef<HTMLVideoElement>(null)

  useEffect(() => setSupported(detectorConstructor() !== null), [])

  useEffect(() => {
    const Detector = detectorConstructor()
    if (!scanning || !Detector) return
    const detector = new Detector({ formats: ['qr_code'] })
    let active = true
    let stream: MediaStream | null = null
    let timer: ReturnType<typeof setTimeout> | undefined

    const look = async () => {
      if (!active || !video.current) return
      const codes = await detector.detect(video.current).catch(() => [])
      const found = codes.find((code) => code.rawValue.startsWith('tidings-link:'))
      if (found) {
        onCode(found.rawValue)
        setScanning(false)
        return
      }
      timer = setTimeout(() => void look(), 250)
    }

    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } }).then(
      async (camera) => {
        stream = camera
        if (!active || !video.current) return
        video.current.srcObject = camera
        await video.current.play()
        await look()
      },
      () => setScanning(false),
    )
    return () => {
      active = false
      clearTimeout(timer)
      stream?.getTracks().forEach((track) => track.stop())
    }
  }, [scanning, onCode])

  if (!supported) return null
  if (!scanning) {
    return (
      <button type="button" onClick={() => setScanning(true)}>
        Scan QR code
      </button>
    )
  }
  return (
    <div className="scanner">
      <video ref={video} muted playsInline aria-label="Camera view for the QR code" />
      <button type="button" onClick={() => setScanning(false)}>
        Stop scanning
      </button>
    </div>
  )
}
