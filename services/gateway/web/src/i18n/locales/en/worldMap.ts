// Texts of the illustrated World map: zoom controls, the characters' markers and speech bubbles.
export default {
  worldMap: {
    hint: 'Pinch, double-tap or Ctrl + scroll to zoom. Tap a character to follow them.',
    zoomIn: 'Zoom in',
    zoomOut: 'Zoom out',
    reset: 'Show the whole town',
    marker: '{name}, at {place}',
    markerSaid: '{name}, at {place}, said: “{line}”',
    followed: 'followed',
    phase: {
      dawn: 'Dawn',
      day: 'Day',
      dusk: 'Dusk',
      night: 'Night',
    },
  },
}
