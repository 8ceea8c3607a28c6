import { showToast } from 'vant'
import { ApiError } from '@/api/client'
import { errorMessage, i18n } from '@/i18n'

/**
 * errorMessage() plus the codes of the social pages (post_empty, self_message, file_too_large...),
 * whose texts live in the socialErrors section of the social locale files.
 */
export function errorText(error: unknown): string {
  const { t, te } = i18n.global
  if (error instanceof ApiError && te(`socialErrors.${error.code}`)) {
    return t(`socialErrors.${error.code}`, { detail: error.detail })
  }
  return errorMessage(error)
}

/** Runs `work` and shows its failure as a toast; resolves to whether it succeeded. */
export async function toastErrors(work: () => Promise<unknown>): Promise<boolean> {
  try {
    await work()
    return true
  } catch (error) {
    showToast(errorText(error))
    return false
  }
}
