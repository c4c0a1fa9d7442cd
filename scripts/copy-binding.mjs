// After `tsc`: put the napi-generated loader (binding.js) and its types (binding.d.ts) beside
// dist/lib, where dist/lib/native.{js,d.ts} import '../binding'. A locally built addon
// (riptide.<platform>.node at the root) is copied too so dist runs from a checkout; the
// package's `files` leaves it out (the platform packages under npm/ ship it).
import { copyFileSync, existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
for (const f of ['binding.js', 'binding.d.ts']) {
  if (!existsSync(join(root, f))) {
    console.error(`copy-binding: ${f} is missing; run \`npm run build:native\` (or download the loader artifact) first`)
    process.exit(1)
  }
  copyFileSync(join(root, f), join(dist, f))
}
for (const f of readdirSync(root)) {
  if (/^riptide\..+\.node$/.test(f)) copyFileSync(join(root, f), join(dist, f))
}
