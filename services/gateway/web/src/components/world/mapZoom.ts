// Zooming and panning the World map: two-finger pinch, ctrl + wheel (a trackpad's pinch), double tap or
// double click, a drag once zoomed in, and buttons. The map is scaled from its top left corner and moved
// by (x, y) pixels; it always covers its frame, so nothing of the town is lost off one side.
import { computed, ref, type Ref } from 'vue'

export interface View {
  scale: number
  x: number
  y: number
}

export interface Size {
  width: number
  height: number
}

export const MIN_SCALE = 1
export const MAX_SCALE = 4

/** The view moved back within its frame: scaled 1-4, the map covering the frame. */
export function clampView(view: View, size: Size): View {
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale))
  return {
    scale,
    x: Math.min(0, Math.max(size.width * (1 - scale), view.x)),
    y: Math.min(0, Math.max(size.height * (1 - scale), view.y)),
  }
}

/** The view scaled by `factor` keeping the map point under `at` (pixels in the frame) where it is. */
export function zoomAround(view: View, factor: number, at: { x: number; y: number }, size: Size): View {
  const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, view.scale * factor))
  const applied = scale / view.scale
  return clampView({ scale, x: at.x - (at.x - view.x) * applied, y: at.y - (at.y - view.y) * applied }, size)
}

const DOUBLE_TAP_MS = 320
const DOUBLE_TAP_PX = 30
const DRAG_START_PX = 6

export function useMapZoom(frame: Ref<HTMLElement | null>, size: Ref<Size>) {
  const view = ref<View>({ scale: 1, x: 0, y: 0 })
  const pointers = new Map<number, { x: number; y: number }>()
  let pinch: { distance: number; view: View } | null = null
  let drag: { from: { x: number; y: number }; view: View; moving: boolean } | null = null
  let lastTap: { at: number; x: number; y: number } | null = null

  const zoomed = computed(() => view.value.scale > 1.001)

  function local(event: { clientX: number; clientY: number }): { x: number; y: number } {
    const box = frame.value?.getBoundingClientRect()
    return { x: event.clientX - (box?.left ?? 0), y: event.clientY - (box?.top ?? 0) }
  }

  function zoomBy(factor: number, at?: { x: number; y: number }): void {
    const centre = at ?? { x: size.value.width / 2, y: size.value.height / 2 }
    view.value = zoomAround(view.value, factor, centre, size.value)
  }

  function reset(): void {
    view.value = { scale: 1, x: 0, y: 0 }
  }

  function onWheel(event: WheelEvent): void {
    // A plain wheel scrolls the page; ctrl + wheel (and a trackpad's pinch, sent as such) zooms.
    if (!event.ctrlKey) return
    event.preventDefault()
    zoomBy(Math.exp(-event.deltaY * 0.01), local(event))
  }

  function spread(): number {
    const [a, b] = [...pointers.values()]
    return a && b ? Math.hypot(a.x - b.x, a.y - b.y) : 0
  }

  function onPointerDown(event: PointerEvent): void {
    pointers.set(event.pointerId, local(event))
    if (pointers.size === 2) {
      pinch = { distance: spread(), view: view.value }
      drag = null
    } else if (pointers.size === 1) {
      drag = { from: local(event), view: view.value, moving: false }
    }
  }

  function onPointerMove(event: PointerEvent): void {
    if (!pointers.has(event.pointerId)) return
    pointers.set(event.pointerId, local(event))
    if (pinch && pointers.size >= 2 && pinch.distance > 0) {
      const [a, b] = [...pointers.values()] as [{ x: number; y: number }, { x: number; y: number }]
      const middle = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }
      const distance = spread()
      view.value = zoomAround(view.value, distance / pinch.distance, middle, size.value)
      pinch = { distance, view: view.value }
    } else if (drag && zoomed.value) {
      const at = local(event)
      const dx = at.x - drag.from.x
      const dy = at.y - drag.from.y
      if (!drag.moving && Math.hypot(dx, dy) < DRAG_START_PX) return
      if (!drag.moving) frame.value?.setPointerCapture?.(event.pointerId)
      drag.moving = true
      view.value = clampView({ ...drag.view, x: drag.view.x + dx, y: drag.view.y + dy }, size.value)
    }
  }

  function onPointerUp(event: PointerEvent): void {
    const wasDragging = drag?.moving ?? false
    pointers.delete(event.pointerId)
    if (pointers.size < 2) pinch = null
    if (!pointers.size) drag = null
    // A double tap zooms in where it lands (a mouse's double click is a dblclick event).
    if (event.pointerType === 'touch' && !wasDragging && event.type === 'pointerup') {
      const at = local(event)
      const now = event.timeStamp
      if (lastTap && now - lastTap.at < DOUBLE_TAP_MS && Math.hypot(at.x - lastTap.x, at.y - lastTap.y) < DOUBLE_TAP_PX) {
        zoomBy(2, at)
        lastTap = null
      } else {
        lastTap = { at: now, ...at }
      }
    }
  }

  function onDoubleClick(event: MouseEvent): void {
    zoomBy(2, local(event))
  }

  return {
    view,
    zoomed,
    zoomBy,
    reset,
    handlers: {
      wheel: onWheel,
      pointerdown: onPointerDown,
      pointermove: onPointerMove,
      pointerup: onPointerUp,
      pointercancel: onPointerUp,
      dblclick: onDoubleClick,
    },
  }
}
