import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, getActivePinia, setActivePinia } from 'pinia'
import { Lazyload } from 'vant'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Post, Profile } from '@/api/types'
import PostCard from '@/components/PostCard.vue'
import UserAvatar from '@/components/UserAvatar.vue'
import {
  AVATAR_OUTPUT_SIZE,
  MAX_ZOOM,
  initialView,
  moveView,
  outputSize,
  sourceSquare,
  zoomView,
} from '@/components/identity/imageCrop'
import { closeImageViewer, openImageViewer, viewerState } from '@/components/identity/imageViewer'
import { tokens } from '@/api/tokens'
import { i18n, setLocale } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { useFeedStore } from '@/stores/feed'
import { useProfilesStore } from '@/stores/profiles'
import ConnectionsView from '@/views/ConnectionsView.vue'
import ProfileView from '@/views/ProfileView.vue'
import { makePost, mockFetch, mountWithApp, settle, testRouter } from './helpers'

const VIEWPORT = 260

describe('the avatar crop maths', () => {
  const wide = { width: 2000, height: 1000 }

  it('starts centred, the short side filling the window, and keeps a square of the picture', () => {
    const view = initialView(wide, VIEWPORT)
    expect(view.zoom).toBe(1)
    expect(sourceSquare(wide, VIEWPORT, view)).toEqual({ x: 500, y: 0, size: 1000 })
  })

  it('draws AVATAR_OUTPUT_SIZE square, and never enlarges a smaller crop', () => {
    expect(outputSize(sourceSquare(wide, VIEWPORT, initialView(wide, VIEWPORT)))).toBe(AVATAR_OUTPUT_SIZE)
    const small = { width: 300, height: 200 }
    expect(outputSize(sourceSquare(small, VIEWPORT, initialView(small, VIEWPORT)))).toBe(200)
  })

  it('keeps the crop inside the picture however far it is dragged', () => {
    const start = initialView(wide, VIEWPORT)
    const farLeft = sourceSquare(wide, VIEWPORT, moveView(wide, VIEWPORT, start, 10_000, 10_000))
    expect(farLeft).toEqual({ x: 0, y: 0, size: 1000 })
    const farRight = sourceSquare(wide, VIEWPORT, moveView(wide, VIEWPORT, start, -10_000, -10_000))
    expect(farRight.x + farRight.size).toBeCloseTo(wide.width)
    expect(farRight.y + farRight.size).toBeCloseTo(wide.height)
  })

  it('zooms about the centre, within its limits, still inside the picture', () => {
    const start = initialView(wide, VIEWPORT)
    const zoomed = zoomView(wide, VIEWPORT, start, 2)
    const square = sourceSquare(wide, VIEWPORT, zoomed)
    expect(square.size).toBeCloseTo(500)
    expect(square.x + square.size / 2).toBeCloseTo(1000) // the same centre
    expect(square.y + square.size / 2).toBeCloseTo(500)
    expect(zoomView(wide, VIEWPORT, start, 99).zoom).toBe(MAX_ZOOM)
    expect(zoomView(wide, VIEWPORT, zoomed, 0.1)).toEqual(start)
    // Zoomed into a corner and then out: the picture is pulled back to cover the window.
    const corner = zoomView(wide, VIEWPORT, moveView(wide, VIEWPORT, zoomed, 10_000, 10_000), 1)
    const back = sourceSquare(wide, VIEWPORT, corner)
    expect(back.x).toBeGreaterThanOrEqual(0)
    expect(back.y).toBe(0)
    expect(back.size).toBe(1000)
  })
})

const ALICE = { id: 'u1', username: 'alice', display_name: 'Alice', avatar_url: null, is_ai: false }

describe('UserAvatar', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('shows the picture when the profile has one', async () => {
    const { wrapper } = await mountWithApp(UserAvatar, { user: { ...ALICE, avatar_url: '/api/files/f1/thumbnail' } })
    const image = wrapper.get('[data-test="avatar-image"]')
    expect(image.attributes('src')).toBe('/api/files/f1/thumbnail')
    expect(wrapper.find('[data-test="avatar-initial"]').exists()).toBe(false)
  })

  it('shows the initial on the account colour without one, and when the picture fails to load', async () => {
    const plain = await mountWithApp(UserAvatar, { user: ALICE })
    const initial = plain.wrapper.get('[data-test="avatar-initial"]')
    expect(initial.text()).toBe('A')
    expect(initial.attributes('style')).toMatch(/background/)

    const broken = await mountWithApp(UserAvatar, { user: { ...ALICE, avatar_url: '/gone' } })
    await broken.wrapper.get('[data-test="avatar-image"]').trigger('error')
    expect(broken.wrapper.find('[data-test="avatar-image"]').exists()).toBe(false)
    expect(broken.wrapper.get('[data-test="avatar-initial"]').text()).toBe('A')
  })
})

function image(id: string) {
  return { id, url: `/api/files/${id}`, thumbnail_url: `/api/files/${id}/thumbnail` }
}

describe('the image viewer', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
  })
  afterEach(async () => {
    closeImageViewer()
    await flushPromises()
  })

  const closeButton = () => document.querySelector<HTMLButtonElement>('[data-test="viewer-close"]')
  const key = (name: string) => document.dispatchEvent(new KeyboardEvent('keydown', { key: name, bubbles: true }))

  it('opens from a thumbnail with a labelled close button, closes with Esc and gives focus back', async () => {
    const wrapper = mount(PostCard, {
      props: { post: makePost('p', { images: [image('a'), image('b')] }) as Post },
      global: { plugins: [i18n, testRouter(), getActivePinia()!, Lazyload] },
      attachTo: document.body,
    })
    const thumb = wrapper.findAll('[data-test="thumb"]')[1]!
    await thumb.trigger('click')
    await settle()
    expect(viewerState.show).toBe(true)
    expect(viewerState.images).toEqual(['/api/files/a', '/api/files/b'])
    expect(viewerState.start).toBe(1)
    expect(closeButton()?.getAttribute('aria-label')).toBe('Close image')
    expect(document.activeElement).toBe(closeButton())
    expect(document.querySelector('[role="dialog"]')?.getAttribute('aria-label')).toBe('Image viewer')

    key('Escape')
    await settle()
    expect(viewerState.show).toBe(false)
    expect(document.activeElement).toBe(thumb.element)
  })

  it('closes with its button and moves between pictures with the arrow keys', async () => {
    const opener = document.createElement('button')
    document.body.appendChild(opener)
    openImageViewer(['/one', '/two', '/three'], 0, opener)
    await settle()
    const count = () => document.querySelector('[data-test="viewer-count"]')?.textContent?.trim()
    expect(count()).toBe('1 / 3')
    key('ArrowRight')
    await settle()
    expect(count()).toBe('2 / 3')
    key('ArrowLeft')
    await settle()
    expect(count()).toBe('1 / 3')
    opener.focus()
    key('Tab')
    expect(document.activeElement).toBe(closeButton())
    closeButton()!.click()
    await settle()
    expect(viewerState.show).toBe(false)
    expect(document.activeElement).toBe(opener)
    opener.remove()
  })
})

describe('post pictures', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('shows a single picture whole (the full image, no square crop) and several as square thumbnails', async () => {
    const one = await mountWithApp(PostCard, { post: makePost('1', { images: [image('a')] }) as Post })
    const single = one.wrapper.get('[data-test="single-image"]')
    expect(single.attributes('src')).toBe('/api/files/a')
    expect(one.wrapper.find('.post-card__images').exists()).toBe(false)
    // A 4:3 box holds its place until it loads, then the picture's own shape.
    expect(one.wrapper.get('[data-test="thumb"]').classes()).toContain('post-card__single--loading')
    await single.trigger('load')
    expect(one.wrapper.get('[data-test="thumb"]').classes()).not.toContain('post-card__single--loading')

    const two = await mountWithApp(PostCard, { post: makePost('2', { images: [image('a'), image('b')] }) as Post })
    expect(two.wrapper.find('[data-test="single-image"]').exists()).toBe(false)
    expect(two.wrapper.findAll('.post-card__images [data-test="thumb"]')).toHaveLength(2)
  })
})

function person(overrides: Partial<Profile> = {}): Profile {
  return {
    id: 'u2',
    username: 'bob',
    display_name: 'Bob',
    avatar_url: null,
    is_ai: false,
    bio: '',
    post_count: 3,
    follower_count: 1,
    following_count: 0,
    created_at: '2026-01-01T00:00:00Z',
    is_following: false,
    follows_you: false,
    ...overrides,
  }
}

describe('counts and follower lists', () => {
  beforeEach(() => {
    tokens.save('access', 'refresh')
    setActivePinia(createPinia())
    setLocale('en')
    useAuthStore().user = { id: 'u1', username: 'alice', display_name: 'Alice', role: 'user', is_ai: false, created_at: '', email: null }
  })

  it("links a profile's counts to its follower and following lists", async () => {
    mockFetch([
      { path: '/api/users/bob', reply: () => ({ status: 200, body: person() }) },
      { path: '/api/users/bob/posts', reply: () => ({ status: 200, body: { items: [], next_cursor: null } }) },
    ])
    const { wrapper } = await mountWithApp(ProfileView, { id: 'bob' })
    await settle()
    expect(wrapper.get('[data-test="followers-link"]').attributes('href')).toBe('/users/bob/followers')
    expect(wrapper.get('[data-test="following-link"]').attributes('href')).toBe('/users/bob/following')
    expect(wrapper.get('[data-test="posts-count-link"]').element.tagName).toBe('BUTTON')
  })

  it('lists followers with a follow button each, and none on oneself', async () => {
    const follows: string[] = []
    mockFetch([
      { path: '/api/users/bob', reply: () => ({ status: 200, body: person() }) },
      {
        path: '/api/users/bob/followers',
        reply: () => ({
          status: 200,
          body: { items: [person({ id: 'u3', username: 'carol', display_name: 'Carol' }), person({ ...ALICE, id: 'u1' })], next_cursor: null },
        }),
      },
      { method: 'POST', path: '/api/users/carol/follow', reply: () => (follows.push('carol'), { status: 204 }) },
    ])
    const { wrapper } = await mountWithApp(ConnectionsView, { id: 'bob', kind: 'followers' })
    await settle()
    const rows = wrapper.findAll('[data-test="connection"]')
    expect(rows.map((row) => row.find('.connections__name').text())).toEqual(['Carol', 'Alice'])
    expect(rows[1]!.find('[data-test="row-follow"]').exists()).toBe(false)
    const follow = rows[0]!.get('[data-test="row-follow"]')
    expect(follow.attributes('aria-label')).toBe('Follow Carol')
    await follow.trigger('click')
    await settle()
    expect(follows).toEqual(['carol'])
    expect(follow.text()).toBe('Unfollow')
    expect(wrapper.get('.van-nav-bar__title').text()).toBe('Followers of Bob')
  })
})

describe('setting a picture', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
  })

  it('waits for the new image to be known, then shows it on the profile and on posts on screen', async () => {
    let attempts = 0
    const bodies: unknown[] = []
    mockFetch([
      {
        method: 'PATCH',
        path: '/api/users/me',
        reply: (init) => {
          bodies.push(JSON.parse(String(init.body)))
          attempts += 1
          if (attempts === 1) return { status: 422, body: { detail: 'not yet', code: 'image_not_found' } }
          return { status: 200, body: person({ ...ALICE, avatar_url: '/api/files/new/thumbnail' }) }
        },
      },
    ])
    const feed = useFeedStore()
    feed.feeds.home.items.push(makePost('mine') as Post, makePost('theirs', { author: { ...ALICE, id: 'u9' } }) as Post)
    const saved = await useProfilesStore().setAvatar('new')
    expect(bodies).toEqual([{ avatar_file_id: 'new' }, { avatar_file_id: 'new' }])
    expect(saved.avatar_url).toBe('/api/files/new/thumbnail')
    expect(feed.feeds.home.items.map((post) => post.author.avatar_url)).toEqual(['/api/files/new/thumbnail', null])
    expect(useProfilesStore().profiles.alice?.avatar_url).toBe('/api/files/new/thumbnail')
  })

  it('removes it with remove_avatar, and does not retry a refusal', async () => {
    const bodies: unknown[] = []
    mockFetch([
      {
        method: 'PATCH',
        path: '/api/users/me',
        reply: (init) => {
          const body = JSON.parse(String(init.body))
          bodies.push(body)
          if (body.avatar_file_id) return { status: 403, body: { detail: 'not yours', code: 'image_not_yours' } }
          return { status: 200, body: person({ ...ALICE }) }
        },
      },
    ])
    await expect(useProfilesStore().setAvatar('theirs')).rejects.toMatchObject({ code: 'image_not_yours' })
    expect((await useProfilesStore().setAvatar(null)).avatar_url).toBeNull()
    expect(bodies).toEqual([{ avatar_file_id: 'theirs' }, { remove_avatar: true }])
  })
})
