import { watch } from 'vue'
import { useAuthStore } from './auth'

/** Runs `forget` when the session ends, so the next account never sees this one's data. */
export function onSignedOut(forget: () => void): void {
  watch(
    () => useAuthStore().isSignedIn,
    (signedIn) => {
      if (!signedIn) forget()
    },
  )
}
