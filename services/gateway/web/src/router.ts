import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { accessCheck } from '@/routeAccess'
import { trackNavigation } from '@/routeProgress'
import { useAuthStore } from '@/stores/auth'

// meta.title: the locale key of the page's name in the window title (pageTitle.ts).
const routes: RouteRecordRaw[] = [
  {
    path: '/',
    name: 'home',
    component: () => import('@/views/HomeView.vue'),
    meta: { tabbar: true, title: 'nav.home', open: true },
  },
  {
    path: '/world',
    name: 'world',
    component: () => import('@/views/WorldView.vue'),
    meta: { tabbar: true, title: 'world.title', ownHeading: true, wide: true, open: true },
  },
  {
    path: '/compose',
    name: 'compose',
    component: () => import('@/views/ComposeView.vue'),
    meta: { tabbar: true, title: 'compose.title' },
  },
  {
    path: '/messages',
    name: 'messages',
    component: () => import('@/views/MessagesView.vue'),
    meta: { tabbar: true, title: 'messages.title' },
  },
  { path: '/me', name: 'me', component: () => import('@/views/MeView.vue'), meta: { tabbar: true, title: 'me.title' } },
  {
    path: '/posts/:id',
    name: 'post',
    component: () => import('@/views/PostDetailView.vue'),
    props: true,
    meta: { title: 'postDetail.title', open: true },
  },
  {
    path: '/users/:id',
    name: 'profile',
    component: () => import('@/views/ProfileView.vue'),
    props: true,
    meta: { title: 'profile.title', ownHeading: true, open: true },
  },
  {
    path: '/users/:id/followers',
    name: 'followers',
    component: () => import('@/views/ConnectionsView.vue'),
    props: (route) => ({ id: route.params.id, kind: 'followers' }),
    meta: { title: 'identity.followersTitle', open: true },
  },
  {
    path: '/users/:id/following',
    name: 'following',
    component: () => import('@/views/ConnectionsView.vue'),
    props: (route) => ({ id: route.params.id, kind: 'following' }),
    meta: { title: 'identity.followingTitle', open: true },
  },
  {
    path: '/messages/:userId',
    name: 'chat',
    component: () => import('@/views/ChatView.vue'),
    props: true,
    meta: { title: 'messages.title' },
  },
  {
    path: '/notifications',
    name: 'notifications',
    component: () => import('@/views/NotificationsView.vue'),
    meta: { title: 'notifications.title' },
  },
  {
    path: '/bookmarks',
    name: 'bookmarks',
    component: () => import('@/views/BookmarksView.vue'),
    meta: { title: 'bookmarks.title' },
  },
  {
    path: '/search',
    name: 'search',
    component: () => import('@/views/SearchView.vue'),
    meta: { title: 'search.title', open: true },
  },
  {
    path: '/operator',
    name: 'operator',
    component: () => import('@/views/OperatorView.vue'),
    meta: { admin: true, title: 'operator.title', ownHeading: true, wide: true },
  },
  {
    path: '/signin',
    name: 'signin',
    component: () => import('@/views/SignInView.vue'),
    meta: { public: true, title: 'auth.signIn', ownHeading: true },
  },
  {
    path: '/signup',
    name: 'signup',
    component: () => import('@/views/SignUpView.vue'),
    meta: { public: true, title: 'auth.signUp', ownHeading: true },
  },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHistory(), routes })
trackNavigation(router)

router.beforeEach((to) => {
  const auth = useAuthStore()
  return accessCheck(to, { isSignedIn: auth.isSignedIn, role: auth.user?.role ?? null })
})
