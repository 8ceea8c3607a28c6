import { computed, getCurrentScope, onScopeDispose, readonly, ref, type ComputedRef, type Ref } from 'vue'

/**
 * The desktop layout's breakpoint: from this width the app has a navigation rail and a right column,
 * and sheets open as side panels. styles.css uses the same width in its media queries.
 */
export const DESKTOP_MIN_WIDTH = 1000
export const DESKTOP_QUERY = `(min-width: ${DESKTOP_MIN_WIDTH}px)`

/** Whether the window is desktop-wide now; follows resizes until the calling component unmounts. */
export function useDesktop(): Readonly<Ref<boolean>> {
  const media = typeof window !== 'undefined' && typeof window.matchMedia === 'function' ? window.matchMedia(DESKTOP_QUERY) : null
  const desktop = ref(media?.matches ?? false)
  if (media) {
    const follow = (event: MediaQueryListEvent) => (desktop.value = event.matches)
    media.addEventListener('change', follow)
    if (getCurrentScope()) onScopeDispose(() => media.removeEventListener('change', follow))
  }
  return readonly(desktop)
}

export type PanelPosition = 'bottom' | 'right'

/**
 * Where a sheet (a Vant Popup) opens: from the bottom on phones, as a panel on the right on a desktop,
 * where a sheet across the whole width would stretch its contents over 1,400 px.
 * Usage: `<Popup :position="panelPosition" ...>`; styles.css gives right panels their width.
 */
export function usePanelPosition(): ComputedRef<PanelPosition> {
  const desktop = useDesktop()
  return computed(() => (desktop.value ? 'right' : 'bottom'))
}
