/** A compact time for lists: the clock time today, the date otherwise (and the year if not this one). */
export function shortTime(iso: string, locale: string, now: Date = new Date()): string {
  const when = new Date(iso)
  if (Number.isNaN(when.getTime())) return ''
  if (when.toDateString() === now.toDateString()) {
    return when.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' })
  }
  const options: Intl.DateTimeFormatOptions = { month: 'short', day: 'numeric' }
  if (when.getFullYear() !== now.getFullYear()) options.year = 'numeric'
  return when.toLocaleDateString(locale, options)
}
