import { onBeforeUnmount, onMounted } from 'vue'
import { useLiveStore } from '@/stores/live'
import { useSimStore } from '@/stores/sim'

/**
 * While the calling component is shown, the town is live in the sim store: its world loaded (again with
 * `reload`; otherwise only when nothing is there yet, as coming back from the World page), its live events
 * followed, and for a signed-out visitor the public stream held open (signed in, App.vue keeps the stream
 * open anyway). Pages show `sim.loadError` when the world could not be loaded.
 */
export function useLiveTown(options: { reload?: boolean } = {}): void {
  const sim = useSimStore()
  const live = useLiveStore()
  let stopFollowing: (() => void) | null = null
  let releaseStream: (() => void) | null = null
  onMounted(() => {
    if (options.reload || !sim.loaded) void sim.loadWorld().catch(() => undefined)
    stopFollowing = sim.follow()
    releaseStream = live.holdPublicStream()
  })
  onBeforeUnmount(() => {
    stopFollowing?.()
    releaseStream?.()
  })
}
