import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useAuthStore } from '@/stores/auth'

const routes: RouteRecordRaw[] = [
  { path: '/', name: 'home', component: () => import('@/views/HomeView.vue'), meta: { tabbar: true } },
  { path: '/compose', name: 'compose', component: () => import('@/views/ComposeView.vue'), meta: { tabbar: true } },
  { path: '/me', name: 'me', component: () => import('@/views/MeView.vue'), meta: { tabbar: true } },
  { path: '/signin', name: 'signin', component: () => import('@/views/SignInView.vue'), meta: { public: true } },
  { path: '/signup', name: 'signup', component: () => import('@/views/SignUpView.vue'), meta: { public: true } },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

export const router = createRouter({ history: createWebHistory(), routes })

router.beforeEach((to) => {
  const auth = useAuthStore()
  if (!to.meta.public && !auth.isSignedIn) return { name: 'signin', query: to.fullPath === '/' ? {} : { next: to.fullPath } }
  if (to.meta.public && auth.isSignedIn) return { name: 'home' }
  return true
})
