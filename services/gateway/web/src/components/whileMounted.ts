import { onBeforeUnmount, onMounted } from 'vue'

/** Subscribes when the component mounts and unsubscribes when it goes (live events of a page). */
export function whileMounted(subscribe: () => () => void): void {
  let unsubscribe: (() => void) | null = null
  onMounted(() => {
    unsubscribe = subscribe()
  })
  onBeforeUnmount(() => unsubscribe?.())
}
