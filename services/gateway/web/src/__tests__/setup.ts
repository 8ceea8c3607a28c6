import { afterAll } from 'vitest'

// Vant measures its safe-area placeholders 100–300 ms after mounting. A timer still pending when a test
// file ends would fire after its DOM environment is gone ("window is not defined"), failing the run at
// random. No test waits for those measurements, so the ones left over are cancelled when the file ends.
const pending = new Set<ReturnType<typeof setTimeout>>()
const realSetTimeout = globalThis.setTimeout
const realClearTimeout = globalThis.clearTimeout

globalThis.setTimeout = ((handler: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) => {
  const id = realSetTimeout(() => {
    pending.delete(id)
    handler(...args)
  }, delay)
  pending.add(id)
  return id
}) as typeof setTimeout

globalThis.clearTimeout = ((id: ReturnType<typeof setTimeout> | undefined) => {
  if (id !== undefined) pending.delete(id)
  realClearTimeout(id)
}) as typeof clearTimeout

afterAll(() => {
  for (const id of pending) realClearTimeout(id)
  pending.clear()
})

// jsdom has no EventSource. Pages that show the town live hold the stream open while shown (even signed
// out); here it never connects. Tests of the stream stub one that records what was opened.
if (!('EventSource' in globalThis)) {
  ;(globalThis as { EventSource?: unknown }).EventSource = class SilentEventSource {
    readyState = 0
    addEventListener(): void {}
    removeEventListener(): void {}
    close(): void {}
  }
}
