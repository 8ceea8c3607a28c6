// Who may open which page. Three kinds of page (route meta):
//   open    readable by anyone, signed in or out (home, the World, posts, profiles, search);
//   public  for the signed out only (sign in, sign up): a signed-in person goes home;
//   neither needs an account (messages, notifications, me, compose, the console): a visitor is sent to
//           sign in, and comes back here afterwards (?next=).
import type { RouteLocationNormalized, RouteLocationRaw } from 'vue-router'
import { signInLocation } from '@/composables/signInPrompt'

export interface Viewer {
  isSignedIn: boolean
  /** null until /auth/me has answered. */
  role: string | null
}

/** true to go ahead, else where to go instead. */
export function accessCheck(to: Pick<RouteLocationNormalized, 'meta' | 'fullPath'>, viewer: Viewer): true | RouteLocationRaw {
  if (to.meta.public) return viewer.isSignedIn ? { name: 'home' } : true
  if (!viewer.isSignedIn) return to.meta.open ? true : signInLocation(to.fullPath)
  // The console's API refuses non-admins anyway; this only keeps them from an empty page.
  if (to.meta.admin && viewer.role !== null && viewer.role !== 'admin') return { name: 'home' }
  return true
}
