import { Locale as VantLocale } from 'vant'
import vantEnUS from 'vant/es/locale/lang/en-US'
import vantZhCN from 'vant/es/locale/lang/zh-CN'
import { createI18n } from 'vue-i18n'
import { ApiError } from '@/api/client'
import en from './locales/en'
import zhCN from './locales/zh-CN'

export const LOCALES = ['zh-CN', 'en'] as const
export type AppLocale = (typeof LOCALES)[number]

const STORAGE_KEY = 'aic.locale'

function initialLocale(): AppLocale {
  const saved = localStorage.getItem(STORAGE_KEY)
  if (saved && (LOCALES as readonly string[]).includes(saved)) return saved as AppLocale
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en'
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'en',
  messages: { en, 'zh-CN': zhCN },
})

function applyLocale(locale: AppLocale): void {
  i18n.global.locale.value = locale
  // Vant's own texts (list "loading", dialogs) follow the app language.
  VantLocale.use(locale, locale === 'zh-CN' ? vantZhCN : vantEnUS)
  document.documentElement.lang = locale
}

export function setLocale(locale: AppLocale): void {
  localStorage.setItem(STORAGE_KEY, locale)
  applyLocale(locale)
}

applyLocale(i18n.global.locale.value as AppLocale)

/** A message for any error: the translation of the API's code, else its detail, else a generic one. */
export function errorMessage(error: unknown): string {
  const { t, te } = i18n.global
  if (error instanceof ApiError) {
    const key = `errors.${error.code}`
    if (te(key)) return t(key, { detail: error.detail })
    return error.detail || t('errors.generic')
  }
  // fetch rejects with a TypeError when the network is down.
  if (error instanceof TypeError) return t('errors.network')
  return t('errors.generic')
}
