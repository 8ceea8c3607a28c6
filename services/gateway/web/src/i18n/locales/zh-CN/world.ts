import type en from '../en/world'

// Texts of the world pages; typed against the English file so a missing key fails the type check.
const world: typeof en = {}

export default world
