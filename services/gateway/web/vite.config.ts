import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { defineConfig, type Plugin } from 'vite'

// Vant's icon font is embedded as a data: URL with a fallback on a CDN. The page's CSP allows fonts
// only from 'self' and data:, so the fallback would only ever log a violation (and leak a request).
function vantIconsWithoutCdn(): Plugin {
  return {
    name: 'aic-vant-icons-without-cdn',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]vant[\\/].*\.css$/.test(id)) return null
      return { code: code.replace(/,\s*url\(\/\/at\.alicdn\.com[^)]*\)\s*format\("woff"\)/g, ''), map: null }
    },
  }
}

// `npm run dev` proxies the API to a running gateway (make dev serves on 8000 by default).
const apiTarget = process.env.AIC_API_URL ?? 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [vantIconsWithoutCdn(), vue()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  define: {
    // vue-i18n feature flags: composition API only, no devtools hooks in production.
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  server: {
    proxy: { '/api': { target: apiTarget, changeOrigin: false } },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The gateway caches /assets/* for a year; Vite's hashed names make that safe.
    assetsDir: 'assets',
  },
})
