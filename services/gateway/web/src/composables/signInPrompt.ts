// Writing asks for an account; reading does not. Every button a signed-out visitor can reach that would
// write (follow, like, comment, message, post, repost, bookmark) asks through here, so they all ask the
// same way and all bring the person back where they were once signed in.
import { showConfirmDialog } from 'vant'
import { nextTick } from 'vue'
import { useI18n } from 'vue-i18n'
import { useRoute, useRouter, type LocationQuery, type RouteLocationRaw } from 'vue-router'
import { useAuthStore } from '@/stores/auth'

/** What the visitor was about to do: the prompt's title says it ("Sign in to follow Lin"). */
export type SignInReason = 'follow' | 'chat' | 'like' | 'comment' | 'post' | 'repost' | 'bookmark' | 'other'

/**
 * Where to go after signing in or up: the `next` of the query when it is a path of this site. `//host`
 * and `/\host` would leave it (browsers read both as another origin), so they count as no `next`.
 */
export function safeNext(query: LocationQuery): string {
  const next = query.next
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : '/'
}

/** The sign-in (or sign-up) page that comes back to `next` afterwards. */
export function signInLocation(next: string, page: 'signin' | 'signup' = 'signin'): RouteLocationRaw {
  return { path: `/${page}`, query: next === '/' ? {} : { next } }
}

const PROMPT_TITLE_ID = 'sign-in-prompt-title'

/** Vant's dialog has role="dialog" but no name (axe aria-dialog-name): it is named by its title. */
function nameThePrompt(): void {
  const dialog = document.querySelector('.sign-in-prompt')
  const title = dialog?.querySelector('.van-dialog__header')
  if (!dialog || !title) return
  title.id = PROMPT_TITLE_ID
  dialog.setAttribute('aria-labelledby', PROMPT_TITLE_ID)
}

export function useSignInPrompt() {
  const auth = useAuthStore()
  const router = useRouter()
  const route = useRoute()
  const { t } = useI18n()

  /**
   * True when signed in: go ahead. Otherwise false, and a dialog offers to sign in, coming back to
   * `next` (by default the page the visitor is on). `name`: whom the action concerns, for the title.
   */
  function ensureSignedIn(reason: SignInReason = 'other', options: { name?: string; next?: string } = {}): boolean {
    if (auth.isSignedIn) return true
    const next = options.next ?? route.fullPath
    void showConfirmDialog({
      title: t(`signInPrompt.title.${reason}`, { name: options.name ?? '' }),
      message: t('signInPrompt.message'),
      confirmButtonText: t('signInPrompt.signIn'),
      cancelButtonText: t('signInPrompt.notNow'),
      className: 'sign-in-prompt',
    })
      .then(() => router.push(signInLocation(next)))
      .catch(() => undefined) // "Not now"
    void nextTick(nameThePrompt)
    return false
  }

  return { ensureSignedIn }
}
