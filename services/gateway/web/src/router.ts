import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useAuthStore } from '@/stores/auth'

const routes: RouteRecordRaw[] = [
  { path: '/', name: 'home', component: () => import('@/views/HomeView.vue'), meta: { tabbar: true } },
  { path: '/world', name: 'world', component: () => import('@/views/WorldView.vue'), meta: { tabbar: true } },
  { path: '/compose', name: 'compose', component: () => import('@/views/ComposeView.vue'), meta: { tabbar: true } },
  {
    path: '/messages',
    name: 'messages',
    component: () => import('@/views/MessagesView.vue'),
    meta: { tabbar: true },
  },
  { path: '/me', name: 'me', component: () => import('@/views/MeView.vue'), meta: { tabbar: true } },
  { path: '/posts/:id', name: 'post', component: () => import('@/views/PostDetailView.vue'), props: true },
  { path: '/users/:id', name: 'profile', component: () => import('@/views/ProfileView.vue'), props: true },
  { path: '/messages/:userId', name: 'chat', component: () => import('@/views/ChatView.vue'), props: true },
  { path: '/notifications', name: 'notifications', component: () => import('@/views/NotificationsView.vue') },
  { path: '/search', name: 'search', component: () => import('@/views/SearchView.vue') },
  {
    path: '/operator',
    name: 'operator',
    component: () => import('@/views/OperatorView.vue'),
    meta: { admin: true },
  },
  { path: '/signin', name: 'signin', component: () => import('@/views/SignInView.vue'), meta: { public: true } },
  { path: '/signup', name: 'signup', component: () => import('@/views/SignUpView.vue'), meta: { public: true } },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach((to) => {
  const auth = useAuthStore()
  if (!to.meta.public && !auth.isSignedIn) return { name: 'signin', query: to.fullPath === '/' ? {} : { next: to.fullPath } }
  if (to.meta.public && auth.isSignedIn) return { name: 'home' }
  // The console's API refuses non-admins anyway; this only keeps them from an empty page.
  if (to.meta.admin && auth.isSignedIn && auth.user && auth.user.role !== 'admin') return { name: 'home' }
  return true
})
