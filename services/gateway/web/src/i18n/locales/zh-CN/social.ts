import type en from '../en/social'

// Texts of the social pages; typed against the English file so a missing key fails the type check.
const social: typeof en = {}

export default social
