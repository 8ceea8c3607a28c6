import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import RelativeTime from '@/components/RelativeTime.vue'
import { relativeTime } from '@/components/time'
import { i18n, setLocale } from '@/i18n'
import { mountWithApp } from './helpers'

// Local times, so the day boundaries are the reader's whatever zone the tests run in.
const NOW = new Date(2026, 2, 5, 14, 30, 0) // Thursday 5 March 2026, 14:30:00
const before = (ms: number) => new Date(NOW.getTime() - ms).toISOString()
const at = (...parts: [number, number, number, number, number, number?]) => new Date(...parts).toISOString()
const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE

function relative(iso: string, locale: 'en' | 'zh-CN'): string {
  setLocale(locale)
  return relativeTime(iso, locale, i18n.global.t, NOW)
}

describe('relative times', () => {
  afterEach(() => setLocale('en'))

  const cases: Array<[string, string, string, string]> = [
    ['a time ahead of this clock', before(-30 * SECOND), 'just now', '刚刚'],
    ['now', before(0), 'just now', '刚刚'],
    ['59 s', before(59 * SECOND), 'just now', '刚刚'],
    ['60 s', before(MINUTE), '1 min ago', '1分钟前'],
    ['3 min', before(3 * MINUTE + 20 * SECOND), '3 min ago', '3分钟前'],
    ['59 min 59 s', before(HOUR - SECOND), '59 min ago', '59分钟前'],
    ['an hour', before(HOUR), '1 h ago', '1小时前'],
    ['2 h', before(2 * HOUR + 59 * MINUTE), '2 h ago', '2小时前'],
    ['the first second of today', at(2026, 2, 5, 0, 0, 0), '14 h ago', '14小时前'],
    ['the last second of yesterday', at(2026, 2, 4, 23, 59, 59), 'yesterday 23:59', '昨天 23:59'],
    ['yesterday afternoon', at(2026, 2, 4, 14, 5, 9), 'yesterday 14:05', '昨天 14:05'],
    ['the first second of yesterday', at(2026, 2, 4, 0, 0, 0), 'yesterday 00:00', '昨天 00:00'],
  ]
  it.each(cases)('%s', (_name, iso, en, zh) => {
    expect(relative(iso, 'en')).toBe(en)
    expect(relative(iso, 'zh-CN')).toBe(zh)
  })

  it('gives the date and time without seconds from the day before yesterday, with the year when not this one', () => {
    const earlier = at(2026, 2, 3, 23, 59, 59)
    expect(relative(earlier, 'en')).toBe('Mar 3, 23:59')
    expect(relative(earlier, 'zh-CN')).toBe('3月3日 23:59')
    const lastYear = at(2025, 11, 31, 9, 7, 0)
    expect(relative(lastYear, 'en')).toBe('Dec 31, 2025, 09:07')
    expect(relative(lastYear, 'zh-CN')).toBe('2025年12月31日 09:07')
  })

  it('minutes just after midnight are still minutes', () => {
    const justAfter = new Date(2026, 2, 5, 0, 10, 0)
    setLocale('en')
    expect(relativeTime(at(2026, 2, 4, 23, 55, 0), 'en', i18n.global.t, justAfter)).toBe('15 min ago')
  })

  it('is empty for a time that does not parse', () => {
    expect(relative('not a time', 'en')).toBe('')
  })
})

describe('RelativeTime', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    setLocale('en')
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] })
    vi.setSystemTime(NOW)
  })
  afterEach(() => vi.useRealTimers())

  it('is a <time> with the full time as its tooltip, and moves on every minute while shown', async () => {
    const { wrapper } = await mountWithApp(RelativeTime, { iso: before(30 * SECOND) })
    const time = wrapper.get('time')
    expect(time.attributes('datetime')).toBe(before(30 * SECOND))
    // (\s: newer ICU puts a narrow no-break space before PM.)
    const full = /^Thursday, March 5, 2026 at 2:29:30\sPM$/
    expect(time.attributes('title')).toMatch(full)
    expect(time.get('[aria-hidden="true"]').text()).toBe('just now')
    // Screen readers get the time itself, which does not change under a live region.
    expect(time.get('.visually-hidden').text()).toMatch(full)

    await vi.advanceTimersByTimeAsync(MINUTE)
    expect(time.get('[aria-hidden="true"]').text()).toBe('1 min ago')
    await vi.advanceTimersByTimeAsync(2 * MINUTE)
    expect(time.get('[aria-hidden="true"]').text()).toBe('3 min ago')

    setLocale('zh-CN')
    await vi.advanceTimersByTimeAsync(0)
    expect(time.get('[aria-hidden="true"]').text()).toBe('3分钟前')
    setLocale('en')

    wrapper.unmount()
    expect(vi.getTimerCount()).toBe(0) // the minute timer stops with the last time shown
  })
})
