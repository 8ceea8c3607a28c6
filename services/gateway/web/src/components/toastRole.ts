/**
 * Vant draws a toast as a focusable popup with role="dialog" and no name (axe: aria-dialog-name); a
 * toast is a status message. Vant's toast API takes no attributes, so they are set when one appears.
 */
export function announceToastsAsStatus(root: HTMLElement = document.body): MutationObserver {
  const observer = new MutationObserver(() => {
    for (const toast of root.querySelectorAll('.van-toast[role="dialog"]')) {
      toast.setAttribute('role', 'status')
      toast.removeAttribute('tabindex')
    }
  })
  observer.observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ['role'] })
  return observer
}
