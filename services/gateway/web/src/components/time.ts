import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue'

type Translate = (key: string, values?: Record<string, unknown>, plural?: number) => string

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS

function clock(when: Date, locale: string): string {
  return when.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
}

function startOfDay(day: Date): number {
  return new Date(day.getFullYear(), day.getMonth(), day.getDate()).getTime()
}

/**
 * How long ago a post, comment, message or notification was, in the reader's words: "just now" under a
 * minute (and for a time slightly ahead of this clock), minutes within the hour, hours within today,
 * "yesterday 14:05", then the date and time without seconds (with the year when not this one).
 * '' for a time that does not parse.
 */
export function relativeTime(iso: string, locale: string, t: Translate, now: Date = new Date()): string {
  const when = new Date(iso)
  if (Number.isNaN(when.getTime())) return ''
  const ago = now.getTime() - when.getTime()
  if (ago < MINUTE_MS) return t('time.justNow')
  if (ago < HOUR_MS) {
    const minutes = Math.floor(ago / MINUTE_MS)
    return t('time.minutesAgo', { n: minutes }, minutes)
  }
  const today = startOfDay(now)
  if (when.getTime() >= today) {
    const hours = Math.floor(ago / HOUR_MS)
    return t('time.hoursAgo', { n: hours }, hours)
  }
  const yesterday = startOfDay(new Date(today - 1))
  if (when.getTime() >= yesterday) return t('time.yesterday', { time: clock(when, locale) })
  const options: Intl.DateTimeFormatOptions = { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }
  if (when.getFullYear() !== now.getFullYear()) options.year = 'numeric'
  return when.toLocaleString(locale, options)
}

/** The whole date and time, for a tooltip and screen readers. */
export function fullTime(iso: string, locale: string): string {
  const when = new Date(iso)
  if (Number.isNaN(when.getTime())) return ''
  return when.toLocaleString(locale, { dateStyle: 'full', timeStyle: 'medium' })
}

// One timer for every relative time on screen, running only while at least one is.
const now = ref(new Date())
let watchers = 0
let ticker: ReturnType<typeof setInterval> | null = null

/** The current time, updated every minute while the calling component is mounted. */
export function useMinuteClock(): Ref<Date> {
  onMounted(() => {
    now.value = new Date()
    if (watchers++ === 0) ticker = setInterval(() => (now.value = new Date()), MINUTE_MS)
  })
  onBeforeUnmount(() => {
    if (--watchers === 0 && ticker) {
      clearInterval(ticker)
      ticker = null
    }
  })
  return now
}
