import 'vue-router'

declare module 'vue-router' {
  interface RouteMeta {
    /** Only for the signed out (sign in, sign up): a signed-in person is sent home. */
    public?: boolean
    /** Readable by anyone, signed in or not (routeAccess.ts). */
    open?: boolean
    /** Shows the bottom tab bar. */
    tabbar?: boolean
    /** The locale key of the page's name in the window title (pageTitle.ts). */
    title?: string
    /** The page has its own level-one heading (else App.vue adds a visually hidden one). */
    ownHeading?: boolean
    /** On a desktop the page takes all the width right of the rail (no right column): the World, the console. */
    wide?: boolean
  }
}
