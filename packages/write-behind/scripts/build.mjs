// Builds the package into dist/ for publishing (`npm run build`, which turbo runs). Inside the monorepo
// nothing needs dist/: tsx and tsc resolve @write-behind/core to src through the root tsconfig's `paths`.
//
// dist/ mirrors src/ file for file, in both module formats:
//   index.js, flush/worker.js, ...     ESM (the package is "type": "module")
//   index.cjs, flush/worker.cjs, ...   CommonJS, requiring ./x.cjs where the source imports ./x.js
//   *.d.ts / *.d.cts                   declarations for import / require
//   lua/**                             every file under src that is not TypeScript, as is
// Why a mirror and not one bundle per entry: the entries share modules, and a bundle each would give
// `.` and `./internal` separate copies of every class (instanceof fails across them) and of every
// module-level cache; and a module that reads a file next to itself (`new URL('./lua/x.lua',
// import.meta.url)`) finds it at the same relative place as in src, wherever that module sits.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const srcDir = join(packageDir, 'src');
const distDir = join(packageDir, 'dist');

/**
 * The public entry points, read from package.json `exports` so that the two cannot drift: `.` is
 * src/index.ts, `./name` is src/name.ts. Each must exist, or the published package would name a missing file.
 * @returns {string[]}
 */
function entryPoints() {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  return Object.keys(manifest.exports)
    .filter((subpath) => subpath !== './package.json')
    .map((subpath) => (subpath === '.' ? 'index' : subpath.slice(2)));
}

/** @param {string} dir @returns {string[]} paths relative to `dir` */
function listFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

/**
 * Keeps every import external and points relative ones at the sibling output file, so that each source
 * file becomes exactly one output file. `./x.js` (or `./x.ts`) becomes `./x<extension>`.
 * @param {string} extension
 * @returns {import('esbuild').Plugin}
 */
function eachFileItsOwnOutput(extension) {
  return {
    name: 'each-file-its-own-output',
    setup(plugin) {
      plugin.onResolve({ filter: /^\.\.?\// }, (args) => ({
        path: args.path.replace(/\.[cm]?[jt]s$/, extension),
        external: true,
      }));
    },
  };
}

/**
 * Rewrites the relative specifiers of an ESM declaration file for its CommonJS twin: `./x.js` → `./x.cjs`,
 * which TypeScript resolves to `./x.d.cts`, so a `require` consumer never meets ESM-flavoured types.
 * @param {string} text
 */
function toCommonJsDeclaration(text) {
  return text.replace(
    /(\bfrom\s*|\bimport\s*\(\s*)(['"])(\.\.?\/[^'"]*)\.js\2/g,
    (_match, before, quote, path) => `${before}${quote}${path}.cjs${quote}`,
  );
}

const started = Date.now();
const entries = entryPoints();
for (const entry of entries) {
  if (!existsSync(join(srcDir, `${entry}.ts`))) {
    throw new Error(`build: package.json exports an entry whose source src/${entry}.ts does not exist`);
  }
}

rmSync(distDir, { recursive: true, force: true });
const sources = listFiles(srcDir);
const typeScript = sources.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));

/** @type {import('esbuild').BuildOptions} */
const common = {
  entryPoints: typeScript.map((file) => join(srcDir, file)),
  outbase: srcDir,
  outdir: distDir,
  bundle: true, // only so that the plugin sees every import; nothing is inlined
  packages: 'external',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
};
await Promise.all([
  build({ ...common, format: 'esm', plugins: [eachFileItsOwnOutput('.js')] }),
  build({
    ...common,
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    plugins: [eachFileItsOwnOutput('.cjs')],
    // CommonJS has no import.meta; esbuild would leave it empty. The URL of the file itself keeps
    // `new URL('./lua/...', import.meta.url)` pointing where it points in the ESM build.
    define: { 'import.meta.url': 'importMetaUrl' },
    // Any other use of import.meta (`import.meta.dirname`) would be empty in CommonJS: fail, not ship it.
    logOverride: { 'empty-import-meta': 'error' },
    banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  }),
]);

const tsc = spawnSync(
  process.execPath,
  [
    createRequire(import.meta.url).resolve('typescript/bin/tsc'),
    '-p',
    join(packageDir, 'tsconfig.build.json'),
  ],
  { stdio: 'inherit' },
);
if (tsc.status !== 0) throw new Error(`build: tsc failed (exit ${tsc.status ?? tsc.signal})`);
for (const file of listFiles(distDir).filter((path) => path.endsWith('.d.ts'))) {
  const text = readFileSync(join(distDir, file), 'utf8');
  writeFileSync(join(distDir, file.replace(/\.d\.ts$/, '.d.cts')), toCommonJsDeclaration(text));
}

// The Lua scripts (and any other asset), read at run time relative to the module that uses them.
for (const file of sources.filter((path) => !path.endsWith('.ts'))) {
  mkdirSync(dirname(join(distDir, file)), { recursive: true });
  copyFileSync(join(srcDir, file), join(distDir, file));
}

for (const entry of entries) {
  for (const extension of ['.js', '.cjs', '.d.ts', '.d.cts']) {
    if (!existsSync(join(distDir, entry + extension)))
      throw new Error(`build: dist/${entry}${extension} missing`);
  }
}
// The commands (package.json `bin`, `./dist/cli.js` from src/cli.ts): they must exist and be executable, or
// `npx write-behind` fails for the user. esbuild keeps the source's `#!/usr/bin/env node` line.
const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
for (const [name, path] of Object.entries(manifest.bin ?? {})) {
  const file = join(packageDir, path);
  if (!existsSync(file)) throw new Error(`build: bin ${name} (${path}) missing`);
  if (!readFileSync(file, 'utf8').startsWith('#!'))
    throw new Error(`build: bin ${name} (${path}) has no #! line`);
  chmodSync(file, 0o755);
}
console.log(`build: dist/ (${entries.join(', ')}) in ${Date.now() - started} ms`);
