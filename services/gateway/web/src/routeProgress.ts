import { ref } from 'vue'
import type { Router } from 'vue-router'

/** True while a navigation is under way, mostly while a page's code downloads. */
export const navigating = ref(false)

export function trackNavigation(router: Router): void {
  router.beforeEach(() => {
    navigating.value = true
  })
  router.afterEach(() => {
    navigating.value = false
  })
  router.onError(() => {
    navigating.value = false
  })
}
