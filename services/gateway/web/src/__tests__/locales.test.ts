import { describe, expect, it } from 'vitest'
import enSocial from '@/i18n/locales/en/social'
import enSocietyReport from '@/i18n/locales/en/societyReport'
import enWorld from '@/i18n/locales/en/world'
import enLanding from '@/i18n/locales/en/landing'

describe('locale files', () => {
  // They are spread into one object: a top-level key in two of them would silently drop one's texts.
  it('share no top-level key', () => {
    const keys = [enSocial, enWorld, enSocietyReport, enLanding].flatMap((part) => Object.keys(part))
    expect(keys.filter((key, index) => keys.indexOf(key) !== index)).toEqual([])
  })
})
