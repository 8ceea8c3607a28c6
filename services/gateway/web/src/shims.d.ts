import 'vue-router'

declare module 'vue-router' {
  interface RouteMeta {
    /** Reachable without signing in (sign in, sign up). */
    public?: boolean
    /** Shows the bottom tab bar. */
    tabbar?: boolean
  }
}
