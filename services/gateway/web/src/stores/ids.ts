/** Orders the API's numeric string ids (they outgrow Number): shorter is smaller, then by digits. */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
}

/** Case-insensitive key of a username, as the API matches them. */
export function usernameKey(username: string): string {
  return username.toLowerCase()
}
