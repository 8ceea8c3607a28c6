import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/client'
import { tokens } from '@/api/tokens'
import { MAX_UPLOAD_BYTES, checkImageFile, uploadImage } from '@/api/upload'
import { setLocale } from '@/i18n'
import { useComposeStore } from '@/stores/compose'
import ComposeView from '@/views/ComposeView.vue'
import { mockFetch, mountWithApp, settle } from './helpers'

/** An XMLHttpRequest the test drives: progress, then an answer. */
class FakeXhr {
  static sent: FakeXhr[] = []
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null }
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  onabort: (() => void) | null = null
  onloadend: (() => void) | null = null
  status = 0
  responseText = ''
  method = ''
  url = ''
  headers: Record<string, string> = {}
  body: FormData | null = null
  aborted = false

  open(method: string, url: string) {
    this.method = method
    this.url = url
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value
  }
  send(body: FormData) {
    this.body = body
    FakeXhr.sent.push(this)
  }
  abort() {
    this.aborted = true
    this.onabort?.()
    this.onloadend?.()
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ lengthComputable: true, loaded, total })
  }
  answer(status: number, body: unknown) {
    this.status = status
    this.responseText = JSON.stringify(body)
    this.onload?.()
    this.onloadend?.()
  }
}

function jwtExpiringIn(seconds: number): string {
  return `h.${btoa(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + seconds })).replace(/=+$/, '')}.s`
}

function image(name: string, size = 1000, type = 'image/png'): File {
  const file = new File([new Uint8Array(Math.min(size, 16))], name, { type })
  // Big files without allocating them: the size is all the checks read.
  Object.defineProperty(file, 'size', { value: size })
  return file
}

function uploaded(id: string) {
  return { id, url: `/api/files/${id}`, thumbnail_url: `/api/files/${id}/thumbnail`, content_type: 'image/png', size: 1000, width: 10, height: 10, filename: 'a.png' }
}

describe('image upload', () => {
  beforeEach(() => {
    localStorage.clear()
    FakeXhr.sent = []
    vi.stubGlobal('XMLHttpRequest', FakeXhr)
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: () => 'blob:preview', revokeObjectURL: () => undefined }))
    setActivePinia(createPinia())
    setLocale('en')
  })
  afterEach(() => vi.unstubAllGlobals())

  it('checks size and type against the server limits before sending', () => {
    expect(checkImageFile(image('ok.png', MAX_UPLOAD_BYTES))).toBeNull()
    expect(checkImageFile(image('big.png', MAX_UPLOAD_BYTES + 1))).toBe('file_too_large')
    expect(checkImageFile(image('doc.pdf', 10, 'application/pdf'))).toBe('unsupported_image')
    expect(checkImageFile(image('empty.png', 0))).toBe('empty_file')
  })

  it('sends the file with the bearer token and reports progress', async () => {
    tokens.save(jwtExpiringIn(600), 'r1')
    const seen: number[] = []
    const result = uploadImage(image('a.png'), { onProgress: (f) => seen.push(f) })
    await settle()
    const xhr = FakeXhr.sent[0]!
    expect(xhr.method).toBe('POST')
    expect(xhr.url).toBe('/api/files')
    expect(xhr.headers.Authorization).toBe(`Bearer ${tokens.access}`)
    expect((xhr.body!.get('file') as File).name).toBe('a.png')
    xhr.progress(250, 1000)
    xhr.progress(1000, 1000)
    xhr.answer(201, uploaded('f1'))
    expect((await result).id).toBe('f1')
    expect(seen).toEqual([0.25, 1, 1])
  })

  it('refreshes an expired token once and sends again', async () => {
    tokens.save('stale', 'r1')
    mockFetch([
      { method: 'POST', path: '/api/auth/refresh', reply: () => ({ status: 200, body: { access_token: 'fresh', refresh_token: 'r2', expires_in: 900 } }) },
    ])
    const result = uploadImage(image('a.png'))
    await settle() // 'stale' cannot be read as a JWT, so it is refreshed before the first send
    expect(FakeXhr.sent[0]!.headers.Authorization).toBe('Bearer fresh')
    FakeXhr.sent[0]!.answer(401, { detail: 'expired', code: 'invalid_token' })
    await settle()
    expect(FakeXhr.sent).toHaveLength(2)
    FakeXhr.sent[1]!.answer(201, uploaded('f2'))
    expect((await result).id).toBe('f2')
  })

  it("turns the server's refusal into an ApiError with its code", async () => {
    tokens.save(jwtExpiringIn(600), 'r1')
    const result = uploadImage(image('a.png'))
    await settle()
    FakeXhr.sent[0]!.answer(422, { detail: 'Only JPEG, PNG, WebP and GIF images are accepted', code: 'unsupported_image' })
    const error = await result.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).code).toBe('unsupported_image')
  })

  it('compose: per-file progress and errors, posting disabled until uploads finish, then posts the file ids', async () => {
    tokens.save(jwtExpiringIn(600), 'r1')
    const posted: unknown[] = []
    mockFetch([
      {
        method: 'POST',
        path: '/api/posts',
        reply: (init) => {
          posted.push(JSON.parse(String(init.body)))
          return { status: 201, body: { id: 'p1', author: { id: 'u1', username: 'a', display_name: 'A', avatar_url: null, is_ai: false }, content: 'hi', images: [], location_id: null, like_count: 0, comment_count: 0, liked_by_me: false, created_at: '' } }
        },
      },
    ])
    const compose = useComposeStore()
    const { wrapper } = await mountWithApp(ComposeView)
    await wrapper.get('textarea').setValue('hi')
    compose.addFiles([image('one.png'), image('huge.png', MAX_UPLOAD_BYTES + 1), image('two.jpg', 500, 'image/jpeg')])
    await settle()

    const tiles = () => wrapper.findAll('[data-test="image-tile"]')
    const submit = () => wrapper.get('[data-test="submit-post"]')
    expect(tiles()).toHaveLength(3)
    expect(FakeXhr.sent).toHaveLength(2) // the oversized one is never sent
    expect(tiles()[1]!.get('[data-test="image-status"]').text()).toBe('Too large: at most 10 MB.')
    expect(tiles()[1]!.find('[data-test="retry-image"]').exists()).toBe(false)

    FakeXhr.sent[0]!.progress(400, 1000)
    await settle()
    expect(tiles()[0]!.get('[data-test="progress"]').attributes('aria-valuenow')).toBe('40')
    expect(tiles()[0]!.get('[data-test="image-status"]').text()).toBe('Uploading 40%')
    expect(submit().attributes('disabled')).toBeDefined()

    FakeXhr.sent[0]!.answer(201, uploaded('f1'))
    FakeXhr.sent[1]!.answer(500, { detail: 'boom', code: 'internal_error' })
    await settle()
    expect(tiles()[2]!.get('[data-test="image-status"]').text()).toBe('boom')
    expect(submit().attributes('disabled')).toBeDefined() // failed images must be removed or retried

    await tiles()[2]!.get('[data-test="retry-image"]').trigger('click')
    await settle()
    expect(FakeXhr.sent).toHaveLength(3)
    FakeXhr.sent[2]!.answer(201, uploaded('f3'))
    await tiles()[1]!.get('[data-test="remove-image"]').trigger('click')
    await settle()
    expect(tiles()).toHaveLength(2)
    expect(submit().attributes('disabled')).toBeUndefined()

    await wrapper.get('form').trigger('submit')
    await settle()
    expect(posted).toEqual([{ content: 'hi', image_ids: ['f1', 'f3'] }])
    expect(compose.images).toHaveLength(0)
  })

  it('compose: removing an image cancels its upload, and no more than 9 are taken', async () => {
    tokens.save(jwtExpiringIn(600), 'r1')
    const compose = useComposeStore()
    const left = compose.addFiles(Array.from({ length: 11 }, (_, i) => image(`${i}.png`)))
    await settle()
    expect(left).toBe(2)
    expect(compose.images).toHaveLength(9)
    expect(FakeXhr.sent).toHaveLength(3) // a few at a time
    compose.remove(compose.images[0]!.key)
    await settle()
    expect(FakeXhr.sent[0]!.aborted).toBe(true)
    expect(compose.images).toHaveLength(8)
    expect(compose.images.every((i) => i.status !== 'failed')).toBe(true)
    expect(FakeXhr.sent).toHaveLength(4) // the next one started
  })
})
