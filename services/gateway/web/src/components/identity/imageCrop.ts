// The maths of the avatar crop dialog, apart from the DOM so it can be tested. The picture lies under
// a square window of `viewport` CSS pixels; it always covers the window (no empty corners), scaled by
// `zoom` times the scale at which its short side just fills it. `x`, `y`: where the picture's top-left
// corner is, relative to the window's, in CSS pixels (so 0 or less).

export interface Size {
  width: number
  height: number
}

export interface CropView {
  zoom: number
  x: number
  y: number
}

/** The part of the picture to keep, in the picture's own pixels: a square. */
export interface SourceSquare {
  x: number
  y: number
  size: number
}

/** Side of the uploaded avatar: sharp on a 2× screen at the largest size shown (a profile's 72 px). */
export const AVATAR_OUTPUT_SIZE = 512
export const MIN_ZOOM = 1
export const MAX_ZOOM = 4

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value))

/** The scale at which the picture's short side just fills the window (zoom 1). */
export function coverScale(image: Size, viewport: number): number {
  return viewport / Math.min(image.width, image.height)
}

/** The same view, with its zoom in range and the picture moved back to cover the whole window. */
export function clampView(image: Size, viewport: number, view: CropView): CropView {
  const zoom = clamp(view.zoom, MIN_ZOOM, MAX_ZOOM)
  const scale = coverScale(image, viewport) * zoom
  return {
    zoom,
    x: clamp(view.x, viewport - image.width * scale, 0),
    y: clamp(view.y, viewport - image.height * scale, 0),
  }
}

/** The starting view: zoom 1, the picture centred. */
export function initialView(image: Size, viewport: number): CropView {
  const scale = coverScale(image, viewport)
  return clampView(image, viewport, {
    zoom: 1,
    x: (viewport - image.width * scale) / 2,
    y: (viewport - image.height * scale) / 2,
  })
}

/** The view moved by (dx, dy) CSS pixels, as a drag or an arrow key moves it. */
export function moveView(image: Size, viewport: number, view: CropView, dx: number, dy: number): CropView {
  return clampView(image, viewport, { ...view, x: view.x + dx, y: view.y + dy })
}

/** The view at another zoom, keeping the picture's point under `anchor` (window pixels; default the centre) in place. */
export function zoomView(
  image: Size,
  viewport: number,
  view: CropView,
  zoom: number,
  anchor: { x: number; y: number } = { x: viewport / 2, y: viewport / 2 },
): CropView {
  const next = clamp(zoom, MIN_ZOOM, MAX_ZOOM)
  const ratio = next / view.zoom
  return clampView(image, viewport, {
    zoom: next,
    x: anchor.x - (anchor.x - view.x) * ratio,
    y: anchor.y - (anchor.y - view.y) * ratio,
  })
}

/** The square of the picture that the window shows, in picture pixels, never reaching outside the picture. */
export function sourceSquare(image: Size, viewport: number, view: CropView): SourceSquare {
  const { x, y, zoom } = clampView(image, viewport, view)
  const scale = coverScale(image, viewport) * zoom
  const size = Math.min(viewport / scale, image.width, image.height)
  return {
    x: clamp(-x / scale, 0, image.width - size),
    y: clamp(-y / scale, 0, image.height - size),
    size,
  }
}

/** The side of the avatar to draw: AVATAR_OUTPUT_SIZE, or less when the kept square is smaller (no blur from enlarging). */
export function outputSize(square: SourceSquare): number {
  return Math.max(1, Math.min(AVATAR_OUTPUT_SIZE, Math.round(square.size)))
}
