// Image upload to POST /api/files through XMLHttpRequest, the one browser API that reports upload
// progress. It carries the same bearer token as the fetch client and refreshes it once on a 401.
import { ApiError, freshAccessToken, refreshAccessToken } from './client'
import type { ApiErrorBody, UploadedFile } from './types'

/** The files service's default limit (AIC_MAX_UPLOAD_BYTES); checked here so a big photo fails at once. */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024
export const ACCEPTED_IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'] as const
export const MAX_POST_IMAGES = 9

export type UploadCheck = 'file_too_large' | 'unsupported_image' | 'empty_file' | null

/** Why the server would refuse this file, found before sending it; null when it looks fine. */
export function checkImageFile(file: File): UploadCheck {
  // Some browsers give no type for unusual extensions: let the server judge those by their bytes.
  if (file.type && !(ACCEPTED_IMAGE_TYPES as readonly string[]).includes(file.type)) return 'unsupported_image'
  if (file.size === 0) return 'empty_file'
  if (file.size > MAX_UPLOAD_BYTES) return 'file_too_large'
  return null
}

export interface UploadOptions {
  /** Called with the fraction sent so far, 0 to 1. */
  onProgress?: (fraction: number) => void
  signal?: AbortSignal
}

function errorFrom(xhr: XMLHttpRequest): ApiError {
  let body: ApiErrorBody = {}
  try {
    body = JSON.parse(xhr.responseText) as ApiErrorBody
  } catch {
    // not JSON (a proxy's error page): keep the status only
  }
  const detail = typeof body.detail === 'string' ? body.detail : ''
  return new ApiError(xhr.status, body.code ?? `http_${xhr.status}`, detail)
}

function send(file: File, token: string | null, options: UploadOptions): Promise<XMLHttpRequest> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', '/api/files')
    xhr.setRequestHeader('Accept', 'application/json')
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) options.onProgress?.(event.loaded / event.total)
    }
    xhr.onload = () => resolve(xhr)
    // Same error as fetch gives when the network is down, so errorMessage() says "cannot reach".
    xhr.onerror = () => reject(new TypeError('Network error during upload'))
    xhr.onabort = () => reject(new DOMException('Upload cancelled', 'AbortError'))
    const abort = () => xhr.abort()
    if (options.signal?.aborted) {
      reject(new DOMException('Upload cancelled', 'AbortError'))
      return
    }
    options.signal?.addEventListener('abort', abort, { once: true })
    xhr.onloadend = () => options.signal?.removeEventListener('abort', abort)
    const form = new FormData()
    form.append('file', file, file.name)
    xhr.send(form)
  })
}

/** Uploads one image; rejects with an ApiError carrying the server's code (file_too_large, ...). */
export async function uploadImage(file: File, options: UploadOptions = {}): Promise<UploadedFile> {
  let xhr = await send(file, await freshAccessToken(), options)
  if (xhr.status === 401) {
    const renewed = await refreshAccessToken()
    if (renewed) {
      options.onProgress?.(0)
      xhr = await send(file, renewed, options)
    }
  }
  if (xhr.status < 200 || xhr.status >= 300) throw errorFrom(xhr)
  options.onProgress?.(1)
  return JSON.parse(xhr.responseText) as UploadedFile
}
