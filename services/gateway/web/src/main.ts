import { createPinia } from 'pinia'
import { Lazyload } from 'vant'
// The CSS of the Vant components the app imports (vite.config.ts), before the app's own.
import 'virtual:vant-styles'
import { createApp } from 'vue'
import App from './App.vue'
import { announceToastsAsStatus } from './components/toastRole'
import { i18n } from './i18n'
import { router } from './router'
import './styles.css'

const app = createApp(App)
app.use(createPinia())
app.use(i18n)
app.use(router)
// Post thumbnails load when scrolled into view.
app.use(Lazyload)
app.mount('#app')
announceToastsAsStatus()
