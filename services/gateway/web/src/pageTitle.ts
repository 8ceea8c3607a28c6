import { shallowRef, watchEffect } from 'vue'
import { useRoute, type Router } from 'vue-router'
import { i18n } from '@/i18n'

/** What a page shows, for its title (a person's name on a profile), tied to the path it was set for,
 *  so a page left before its data came cannot name the next one. */
const subject = shallowRef<{ path: string; text: string } | null>(null)

export function setPageSubject(path: string, text: string | null | undefined): void {
  subject.value = text ? { path, text } : null
}

/** In a page's setup: names the page in the window title by ``text`` while it is on the current path. */
export function usePageSubject(text: () => string | null | undefined): void {
  const route = useRoute()
  watchEffect(() => setPageSubject(route.path, text()))
}

/** The page's subject, else its name from the route, else ''. */
export function pageName(path: string, titleKey: string | undefined): string {
  return subject.value?.path === path ? subject.value.text : titleKey ? i18n.global.t(titleKey) : ''
}

/** "Explore · AI Community": the page's name, then the app's name. */
export function pageTitle(path: string, titleKey: string | undefined): string {
  const { t } = i18n.global
  const page = pageName(path, titleKey)
  return page ? `${page} · ${t('app.name')}` : t('app.name')
}

/** Keeps document.title on the current page's title, in the current language. */
export function followPageTitles(router: Router): void {
  watchEffect(() => {
    const route = router.currentRoute.value
    document.title = pageTitle(route.path, route.meta.title)
  })
}
