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
