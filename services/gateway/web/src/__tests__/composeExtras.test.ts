import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { tokens } from '@/api/tokens'
import type { Author, Message } from '@/api/types'
import CommentItem from '@/components/CommentItem.vue'
import ComposerBar from '@/components/ComposerBar.vue'
import EmojiPicker from '@/components/extras/EmojiPicker.vue'
import LinkPreview from '@/components/extras/LinkPreview.vue'
import RichText from '@/components/extras/RichText.vue'
import { insertText } from '@/components/extras/emoji'
import { forgetLinkPreviews } from '@/components/extras/linkPreviews'
import { firstUrl, splitText } from '@/components/extras/richText'
import { MENTION_DEBOUNCE_MS, mentionAt } from '@/components/extras/textAssist'
import { setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import ChatView from '@/views/ChatView.vue'
import MessagesView from '@/views/MessagesView.vue'
import { mockFetch, mountWithApp, settle } from './helpers'

const ME: Author = { id: 'u1', username: 'alice', display_name: 'Alice', avatar_url: null, is_ai: false }
const BOB: Author = { id: 'u2', username: 'bob', display_name: 'Bob', avatar_url: null, is_ai: false }

describe('text with links and mentions', () => {
  it('cuts text into words, links and mentions, links without the punctuation around them', () => {
    expect(splitText('see https://example.org/a?b=1. and @lin_mei!')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'url', text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
      { kind: 'text', text: '. and ' },
      { kind: 'mention', text: '@lin_mei', username: 'lin_mei' },
      { kind: 'text', text: '!' },
    ])
    expect(splitText('（https://zh.example.org/西湖）')[1]).toMatchObject({ href: 'https://zh.example.org/西湖' })
    expect(splitText('https://en.wikipedia.org/wiki/Foo_(bar)')[0]).toMatchObject({ href: 'https://en.wikipedia.org/wiki/Foo_(bar)' })
    // Not mentions: an email address, a name after Chinese text without a space, too short a name.
    expect(splitText('mail a@example.org').every((p) => p.kind === 'text')).toBe(true)
    expect(splitText('你好@lin_mei').every((p) => p.kind === 'text')).toBe(true)
    expect(splitText('@ab').every((p) => p.kind === 'text')).toBe(true)
    expect(splitText('javascript:alert(1) ftp://x.org').every((p) => p.kind === 'text')).toBe(true)
    expect(firstUrl('no link')).toBeNull()
    expect(firstUrl('two http://a.example/ and https://b.example/')).toBe('http://a.example/')
  })

  it('renders links and mentions as nodes: markup in the text stays text', async () => {
    const { wrapper } = await mountWithApp(RichText, { text: '<b>hi</b> @lin_mei https://example.org/"onmouseover=x' })
    const link = wrapper.get('[data-test="text-link"]')
    expect(link.attributes('href')).toBe('https://example.org/')
    expect(link.attributes('rel')).toBe('noopener noreferrer nofollow ugc')
    expect(link.attributes('target')).toBe('_blank')
    expect(wrapper.get('[data-test="mention"]').attributes('href')).toBe('/users/lin_mei')
    expect(wrapper.find('b').exists()).toBe(false)
    expect(wrapper.text()).toContain('<b>hi</b>')
  })
})

describe('link preview card', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
    forgetLinkPreviews()
  })

  it('shows the first link’s preview from the API, and nothing when there is none', async () => {
    const mock = mockFetch([
      {
        path: '/api/link-preview',
        reply: () => {
          const asked = new URL(mock.calls[mock.calls.length - 1]!.url, 'http://x').searchParams.get('url')
          if (asked !== 'https://example.org/') return { status: 404, body: { code: 'no_preview', detail: '' } }
          return {
            status: 200,
            body: { url: 'https://example.org/', site_name: 'Example', title: 'A page', description: 'About it' },
          }
        },
      },
    ])
    const calls = mock.calls
    const { wrapper } = await mountWithApp(LinkPreview, { text: 'look https://example.org/ and https://other.org/' })
    await settle()
    const card = wrapper.get('[data-test="link-preview"]')
    expect(card.attributes('href')).toBe('https://example.org/')
    expect(card.attributes('rel')).toBe('noopener noreferrer nofollow ugc')
    expect(card.text()).toContain('Example')
    expect(card.text()).toContain('A page')
    expect(card.find('img').exists()).toBe(false)
    expect(calls).toHaveLength(1)
    expect(new URL(calls[0]!.url, 'http://x').searchParams.get('url')).toBe('https://example.org/')
    // Signed out or in, the same public request: no token.
    expect((calls[0]!.init.headers as Record<string, string>).Authorization).toBeUndefined()

    // The same link elsewhere is not asked for again.
    await mountWithApp(LinkPreview, { text: 'again https://example.org/' })
    await settle()
    expect(calls).toHaveLength(1)

    const none = await mountWithApp(LinkPreview, { text: 'nothing at https://gone.example/' })
    await settle()
    expect(none.wrapper.find('[data-test="link-preview"]').exists()).toBe(false)
    const noLink = await mountWithApp(LinkPreview, { text: 'no link here' })
    await settle()
    expect(noLink.wrapper.find('[data-test="link-preview"]').exists()).toBe(false)
    expect(calls).toHaveLength(2) // the 404 one; a text without a link asks nothing
  })
})

describe('emoji picker and mention suggestions', () => {
  beforeEach(() => {
    localStorage.clear()
    tokens.save('access', 'refresh')
    setActivePinia(createPinia())
    setLocale('en')
  })
  afterEach(() => vi.useRealTimers())

  it('inserts at the caret, in place of a selection', () => {
    expect(insertText('hello world', '😀', 5, 5)).toEqual({ value: 'hello😀 world', caret: 7 })
    expect(insertText('hello world', '🎉', 6, 11)).toEqual({ value: 'hello 🎉', caret: 8 })
    expect(mentionAt('hi @li', 6)).toEqual({ query: 'li', start: 3 })
    expect(mentionAt('hi @li', 4)).toBeNull() // just the @: nothing to look for yet
    expect(mentionAt('a@li', 4)).toBeNull()
  })

  it('the picker opens with the keyboard, moves with arrows and gives the emoji', async () => {
    const { wrapper } = await mountWithApp(EmojiPicker, {}, '/')
    const toggle = wrapper.get('[data-test="emoji-button"]')
    expect(toggle.attributes('aria-expanded')).toBe('false')
    await toggle.trigger('click')
    expect(toggle.attributes('aria-expanded')).toBe('true')
    const first = wrapper.findAll('[data-test="emoji"]')
    expect(first[0]!.attributes('tabindex')).toBe('0')
    await wrapper.get('.emoji-picker__grid').trigger('keydown', { key: 'ArrowRight' })
    expect(wrapper.findAll('[data-test="emoji"]')[1]!.attributes('tabindex')).toBe('0')
    await wrapper.findAll('[data-test="emoji"]')[1]!.trigger('click')
    expect(wrapper.emitted('pick')).toEqual([['😁']])
    expect(wrapper.find('[data-test="emoji-panel"]').exists()).toBe(false)
    await toggle.trigger('click')
    await wrapper.get('[data-test="emoji-panel"]').trigger('keydown', { key: 'Escape' })
    expect(wrapper.find('[data-test="emoji-panel"]').exists()).toBe(false)
  })

  it('the composer bar inserts an emoji at the caret and suggests people after @', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const { calls } = mockFetch([
      {
        path: '/api/search',
        reply: () => ({ status: 200, body: { posts: [], users: [{ ...BOB, username: 'lin_mei', display_name: '林美' }, BOB] } }),
      },
    ])
    const draft = { value: 'hi there' }
    const { wrapper } = await mountWithApp(ComposerBar, {
      modelValue: draft.value,
      'onUpdate:modelValue': (value: string) => {
        draft.value = value
        void wrapper.setProps({ modelValue: value })
      },
      label: 'Message',
      placeholder: '',
      sendText: 'Send',
      maxlength: 100,
      name: 'message',
    })
    const box = wrapper.get('textarea').element as HTMLTextAreaElement
    box.setSelectionRange(2, 2)
    await wrapper.get('[data-test="emoji-button"]').trigger('click')
    await wrapper.findAll('[data-test="emoji"]')[0]!.trigger('click')
    expect(draft.value).toBe('hi😀 there')

    await wrapper.get('textarea').setValue('hello @li')
    box.setSelectionRange(9, 9)
    await wrapper.get('textarea').trigger('input')
    await vi.advanceTimersByTimeAsync(MENTION_DEBOUNCE_MS)
    vi.useRealTimers()
    await settle()
    const asked = new URL(calls[calls.length - 1]!.url, 'http://x')
    expect(asked.pathname).toBe('/api/search')
    expect(asked.searchParams.get('q')).toBe('li')
    expect(asked.searchParams.get('type')).toBe('users')
    const options = () => wrapper.findAll('[data-test="mention-option"]')
    expect(options().map((o) => o.get('.mention-list__username').text())).toEqual(['@lin_mei', '@bob'])
    expect(box.getAttribute('aria-controls')).toBe(wrapper.get('[data-test="mention-list"]').attributes('id'))
    expect(box.getAttribute('aria-activedescendant')).toBe(options()[0]!.attributes('id'))

    await wrapper.get('textarea').trigger('keydown', { key: 'ArrowDown' })
    expect(options()[1]!.attributes('aria-selected')).toBe('true')
    await wrapper.get('textarea').trigger('keydown', { key: 'ArrowUp' })
    await wrapper.get('textarea').trigger('keydown', { key: 'Enter' })
    expect(draft.value).toBe('hello @lin_mei ')
    expect(wrapper.emitted('send')).toBeUndefined() // Enter took the suggestion, it did not send
    expect(options()).toHaveLength(0)
  })
})

describe('images in direct messages', () => {
  class FakeXhr {
    static sent: FakeXhr[] = []
    upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null }
    onload: (() => void) | null = null
    onerror: (() => void) | null = null
    onabort: (() => void) | null = null
    onloadend: (() => void) | null = null
    status = 0
    responseText = ''
    aborted = false
    open() {}
    setRequestHeader() {}
    send() {
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

  function picture(name: string): File {
    return new File([new Uint8Array(8)], name, { type: 'image/png' })
  }

  function pick(input: HTMLInputElement, files: File[]): void {
    Object.defineProperty(input, 'files', { value: files, configurable: true })
    input.dispatchEvent(new Event('change'))
  }

  function image(id: string) {
    return { id, url: `/api/files/${id}`, thumbnail_url: `/api/files/${id}/thumbnail` }
  }

  beforeEach(() => {
    localStorage.clear()
    tokens.save('access', 'refresh')
    FakeXhr.sent = []
    vi.stubGlobal('XMLHttpRequest', FakeXhr)
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: () => 'blob:preview', revokeObjectURL: () => undefined }))
    setActivePinia(createPinia())
    setLocale('en')
    useAuthStore().user = { ...ME, role: 'user', created_at: '', email: null }
  })

  function serve() {
    const posted: unknown[] = []
    const history: Message[] = []
    const mock = mockFetch([
      { path: '/api/users/bob', reply: () => ({ status: 200, body: { ...BOB, bio: '', post_count: 0, follower_count: 0, following_count: 0, created_at: '' } }) },
      { path: '/api/conversations/bob/messages', reply: () => ({ status: 200, body: { items: [...history].reverse(), next_cursor: null } }) },
      { path: '/api/conversations/unread', reply: () => ({ status: 200, body: { unread_conversations: 0 } }) },
      {
        method: 'POST',
        path: '/api/messages',
        reply: (init) => {
          const body = JSON.parse(String(init.body)) as { content: string; image_ids?: string[] }
          posted.push(body)
          const created: Message = {
            id: String(100 + posted.length),
            conversation_id: 'c1',
            sender: ME,
            content: body.content,
            images: (body.image_ids ?? []).map(image),
            created_at: '2026-01-01T10:00:00Z',
          }
          history.push(created)
          return { status: 201, body: created }
        },
      },
    ])
    return { posted, history, ...mock }
  }

  it('uploads picked images with progress, sends them without text, and shows them in the bubble', async () => {
    const { posted } = serve()
    const { wrapper } = await mountWithApp(ChatView, { userId: 'bob' })
    await settle()
    const send = () => wrapper.get('[data-test="send"]')
    expect(send().attributes('disabled')).toBeDefined()

    pick(wrapper.get('[data-test="image-input"]').element as HTMLInputElement, [picture('a.png'), picture('b.png')])
    await settle()
    expect(wrapper.findAll('[data-test="attachment"]')).toHaveLength(2)
    expect(FakeXhr.sent).toHaveLength(2)
    FakeXhr.sent[0]!.progress(50, 100)
    await settle()
    expect(wrapper.get('[data-test="attachment-progress"]').attributes('aria-valuenow')).toBe('50')

    // Sending waits for the uploads.
    await send().trigger('submit')
    await settle()
    expect(posted).toEqual([])

    // One is removed (its upload cancelled), the other finishes: the message is the image alone.
    await wrapper.findAll('[data-test="remove-attachment"]')[1]!.trigger('click')
    expect(FakeXhr.sent[1]!.aborted).toBe(true)
    FakeXhr.sent[0]!.answer(201, { id: 'f-1', url: '/api/files/f-1', thumbnail_url: '/api/files/f-1/thumbnail' })
    await settle()
    expect(send().attributes('disabled')).toBeUndefined()
    await wrapper.get('form').trigger('submit')
    await settle()
    expect(posted).toEqual([{ to: 'bob', content: '', image_ids: ['f-1'] }])
    expect(wrapper.findAll('[data-test="attachment"]')).toHaveLength(0)
    const shown = wrapper.get('[data-test="message-image"] img')
    expect(shown.attributes('src')).toBe('/api/files/f-1/thumbnail')
    expect(wrapper.find('[data-test="message-text"]').exists()).toBe(false)
  })

  it('at most 4 images; a text message carries no image ids', async () => {
    const { posted } = serve()
    const { wrapper } = await mountWithApp(ChatView, { userId: 'bob' })
    await settle()
    pick(wrapper.get('[data-test="image-input"]').element as HTMLInputElement, ['1', '2', '3', '4', '5'].map((n) => picture(`${n}.png`)))
    await settle()
    expect(wrapper.findAll('[data-test="attachment"]')).toHaveLength(4)
    expect(wrapper.get('[data-test="add-image"]').attributes('disabled')).toBeDefined()
    for (const [index, xhr] of FakeXhr.sent.entries()) xhr.answer(201, { id: `f-${index}` })
    for (const _ of [0, 1, 2, 3]) await wrapper.findAll('[data-test="remove-attachment"]')[0]!.trigger('click')
    await wrapper.get('textarea').setValue('just words')
    await wrapper.get('form').trigger('submit')
    await settle()
    expect(posted).toEqual([{ to: 'bob', content: 'just words' }])
  })

  it('the conversation list says [Image] for a message of images alone', async () => {
    const last: Message = { id: '9', conversation_id: 'c1', sender: BOB, content: '', images: [image('f-9')], created_at: '2026-01-01T10:00:00Z' }
    mockFetch([
      { path: '/api/conversations', reply: () => ({ status: 200, body: { items: [{ id: 'c1', with_user: BOB, last_message: last, unread_count: 1 }], next_cursor: null } }) },
      { path: '/api/conversations/unread', reply: () => ({ status: 200, body: { unread_conversations: 1 } }) },
    ])
    const { wrapper } = await mountWithApp(MessagesView)
    await settle()
    expect(wrapper.get('[data-test="preview"]').text()).toBe('[Image]')
    setLocale('zh-CN')
    await settle()
    expect(wrapper.get('[data-test="preview"]').text()).toBe('[图片]')
  })
})

describe('comments', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('a comment’s mentions and links are clickable, its markup stays text', async () => {
    const comment = {
      id: '5',
      post_id: '1',
      author: BOB,
      parent_id: null,
      content: 'ask @lin_mei <i>now</i> https://example.org/x',
      created_at: '2026-01-01T10:00:00Z',
      replies: [],
      reply_count: 0,
    }
    const { wrapper } = await mountWithApp(CommentItem, { comment, canDelete: () => false })
    const text = wrapper.get('[data-test="comment-content"]')
    expect(text.get('[data-test="mention"]').attributes('href')).toBe('/users/lin_mei')
    expect(text.get('[data-test="text-link"]').attributes('href')).toBe('https://example.org/x')
    expect(text.find('i').exists()).toBe(false)
  })
})
