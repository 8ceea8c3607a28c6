// Drawing the kept square of a picture into a small square image, in the browser (a canvas): the
// avatar sent to the files service is ~512×512 and some tens of KB, whatever the photo was.
import { outputSize, type SourceSquare } from './imageCrop'

export const AVATAR_TYPE = 'image/jpeg'
const AVATAR_QUALITY = 0.9

export function cropToBlob(image: CanvasImageSource, square: SourceSquare): Promise<Blob> {
  const side = outputSize(square)
  const canvas = document.createElement('canvas')
  canvas.width = canvas.height = side
  const context = canvas.getContext('2d')
  if (!context) return Promise.reject(new Error('No 2D canvas'))
  // JPEG has no transparency: a transparent PNG gets a white ground instead of a black one.
  context.fillStyle = '#fff'
  context.fillRect(0, 0, side, side)
  context.imageSmoothingQuality = 'high'
  context.drawImage(image, square.x, square.y, square.size, square.size, 0, 0, side, side)
  return new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error('The picture could not be encoded'))),
      AVATAR_TYPE,
      AVATAR_QUALITY,
    ),
  )
}
