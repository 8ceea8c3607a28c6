import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { fileURLToPath, URL } from 'node:url'
import { promisify } from 'node:util'
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib'
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

// Only the Vant CSS of the components and functions the app imports (about half of Vant's 200 KB),
// as one module main.ts imports before the app's own CSS. Each name's CSS is Vant's own list
// (vant/es/<dir>/style/index.mjs for what vant/es/<dir>/index.mjs exports: showToast brings the toast's), and a
// file using Vant's classes without the component imports the CSS itself (import 'vant/es/cell/index.css').
// All of it in the first stylesheet, in the order of Vant's full one, so the app looks as it did with that:
// split per page, a page's Vant CSS loaded later would beat CSS it must lose to (Cell's `flex: 1` would
// override Field's `flex: none` on a field's label) and override the app's own :root variables.
const VANT_STYLES = 'virtual:vant-styles'

function vantStylesInUse(): Plugin {
  const root = fileURLToPath(new URL('.', import.meta.url))
  const vantEs = join(root, 'node_modules', 'vant', 'es')
  const stylesOf = new Map<string, string[]>()
  for (const dir of readdirSync(vantEs)) {
    const styleModule = join(vantEs, dir, 'style', 'index.mjs')
    if (!existsSync(styleModule)) continue
    const styles = [...readFileSync(styleModule, 'utf8').matchAll(/import\s+"([^"]+\.css)"/g)].map(([, css]) =>
      posix.join('vant/es', dir, 'style', css),
    )
    for (const [, names] of readFileSync(join(vantEs, dir, 'index.mjs'), 'utf8').matchAll(/export\s*\{([^}]*)\}/g)) {
      for (const name of names.split(',')) stylesOf.set(name.trim().split(/\s+as\s+/).pop()!, styles)
    }
  }
  // Where each file's CSS starts in Vant's full stylesheet: its first rule, or (merged there with another
  // rule by Vant's minifier) its first selector.
  const fullCss = readFileSync(join(root, 'node_modules', 'vant', 'lib', 'index.css'), 'utf8')
  const positionInFullCss = (style: string): number => {
    const css = readFileSync(join(root, 'node_modules', style), 'utf8')
    const at = fullCss.indexOf(css.slice(0, css.indexOf('}') + 1))
    return at >= 0 ? at : fullCss.indexOf(css.slice(0, css.search(/[{,]/)))
  }

  // The module: an import of each CSS file in use.
  const stylesInUse = (): string => {
    const styles = new Set<string>()
    const src = join(root, 'src')
    for (const file of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
      if (!/\.(ts|vue)$/.test(file) || file.includes('__tests__')) continue
      const code = readFileSync(join(src, file), 'utf8')
      for (const [, names] of code.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"]vant['"]/g)) {
        for (const name of names.split(',')) {
          for (const style of stylesOf.get(name.trim().split(/\s+as\s+/)[0] ?? '') ?? []) styles.add(style)
        }
      }
      for (const [, style] of code.matchAll(/import\s*['"](vant\/es\/[^'"]+\.css)['"]/g)) styles.add(style)
    }
    const positions = new Map([...styles].map((style) => [style, positionInFullCss(style)]))
    const unplaced = [...positions].filter(([, at]) => at < 0).map(([style]) => style)
    if (unplaced.length) throw new Error(`not in vant/lib/index.css, so of unknown order: ${unplaced.join(', ')}`)
    const inOrder = [...styles].sort((a, b) => positions.get(a)! - positions.get(b)!)
    return inOrder.map((style) => `import '${style}'\n`).join('')
  }

  let served = ''
  return {
    name: 'aic-vant-styles-in-use',
    resolveId: (id) => (id === VANT_STYLES ? `\0${VANT_STYLES}` : null),
    load(id) {
      if (id !== `\0${VANT_STYLES}`) return null
      served = stylesInUse()
      return served
    },
    // `npm run dev`: a file that starts or stops importing a Vant component changes the list.
    handleHotUpdate({ file, server }) {
      const module = server.moduleGraph.getModuleById(`\0${VANT_STYLES}`)
      if (!module || !/\.(ts|vue)$/.test(file)) return
      if (stylesInUse() === served) return
      server.moduleGraph.invalidateModule(module)
      server.ws.send({ type: 'full-reload' })
    },
  }
}

// Beside each text file of the build, its .br and .gz (when smaller): the gateway sends the one the browser
// accepts (aic_gateway/webui.py), without compressing anything per request.
function precompressed(): Plugin {
  const compressible = /\.(html|js|mjs|css|svg|json|txt|xml|webmanifest)$/
  const toBrotli = promisify(brotliCompress)
  const toGzip = promisify(gzip)
  let outDir = ''
  return {
    name: 'aic-precompressed',
    apply: 'build',
    configResolved(config) {
      outDir = join(config.root, config.build.outDir)
    },
    async writeBundle() {
      const files = readdirSync(outDir, { recursive: true, encoding: 'utf8' }).filter((name) => compressible.test(name))
      await Promise.all(
        files.map(async (file) => {
          const content = readFileSync(join(outDir, file))
          const compressed = {
            br: await toBrotli(content, {
              params: {
                [zlibConstants.BROTLI_PARAM_QUALITY]: zlibConstants.BROTLI_MAX_QUALITY,
                [zlibConstants.BROTLI_PARAM_SIZE_HINT]: content.length,
              },
            }),
            gz: await toGzip(content, { level: zlibConstants.Z_BEST_COMPRESSION }),
          }
          for (const [suffix, bytes] of Object.entries(compressed)) {
            if (bytes.length < content.length) writeFileSync(join(outDir, `${file}.${suffix}`), bytes)
          }
        }),
      )
    },
  }
}

// `npm run dev` proxies the API to a running gateway (make dev serves on 8000 by default).
const apiTarget = process.env.AIC_API_URL ?? 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [vantIconsWithoutCdn(), vue(), vantStylesInUse(), precompressed()],
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
