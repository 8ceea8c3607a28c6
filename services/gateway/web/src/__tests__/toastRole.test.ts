import { closeToast, showToast } from 'vant'
import { afterEach, describe, expect, it } from 'vitest'
import { nextTick } from 'vue'
import { announceToastsAsStatus } from '@/components/toastRole'

describe('toasts', () => {
  afterEach(() => closeToast(true))

  it('are status messages, not unnamed focusable dialogs', async () => {
    const observer = announceToastsAsStatus()
    showToast('Posted')
    await nextTick()
    await new Promise((resolve) => setTimeout(resolve, 0))
    const toast = document.querySelector('.van-toast')!
    expect(toast.textContent).toContain('Posted')
    expect(toast.getAttribute('role')).toBe('status')
    expect(toast.hasAttribute('tabindex')).toBe(false)
    observer.disconnect()
  })
})
