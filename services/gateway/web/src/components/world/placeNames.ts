// Place names for pages outside the World page (a post's place): the World page's places when the sim
// store has them, else the world read once per visit.
import { reactive } from 'vue'
import { simApi } from '@/api/sim'
import type { Place } from '@/stores/sim'
import { useSimStore } from '@/stores/sim'

const fetched = reactive(new Map<string, Place>())
let loading: Promise<void> | null = null

/** The place by id, once known; asks the simulator for the world the first time one is wanted. */
export function usePlaces(): { get: (id: string) => Place | undefined } {
  const sim = useSimStore()
  return {
    get(id) {
      const known = sim.placesById.get(id) ?? fetched.get(id)
      // The sim store's world, loaded or on its way (the landing page's), brings the places too.
      if (!known && !sim.loaded && !sim.loadingWorld && !loading) {
        loading = simApi
          .world()
          .then((world) => {
            for (const { agents: _agents, ...place } of world.locations) fetched.set(place.id, place)
          })
          .catch(() => {
            loading = null // the link shows the id meanwhile; a later card asks again
          })
      }
      return known
    },
  }
}

/** For tests: forget the places read. */
export function forgetPlaces(): void {
  fetched.clear()
  loading = null
}
