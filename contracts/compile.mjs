#!/usr/bin/env node
// Compile contracts/*.sol with the npm `solc` package (solc-js, pinned in package.json) and write
// contracts/artifacts/<Name>.json = {contractName, sourceName, sourceSha256, compiler, abi, bytecode,
// deployedBytecode}. Deterministic: fixed compiler version (checked), fixed settings, sources in sorted
// order under their bare file names, stable JSON layout. Offline (no compiler download).
//
//   node contracts/compile.mjs           # (re)write the artifacts
//   node contracts/compile.mjs --check   # exit 1 if any artifact differs from a fresh compile
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

const SOLC_VERSION = '0.8.37'
const SETTINGS = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: 'ipfs' },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
}

const require = createRequire(import.meta.url)
const here = path.dirname(fileURLToPath(import.meta.url))
const outDir = path.join(here, 'artifacts')
const check = process.argv.includes('--check')

let solc
try {
  solc = require('solc')
} catch (e) {
  console.error('error: the npm package `solc` is not installed; run scripts/setup-node.sh')
  process.exit(2)
}
const version = solc.version()
if (!version.startsWith(SOLC_VERSION + '+')) {
  console.error(`error: solc ${version} found, ${SOLC_VERSION} required (package.json pins it)`)
  process.exit(2)
}

const files = fs.readdirSync(here).filter((f) => f.endsWith('.sol')).sort()
const sources = {}
for (const f of files) sources[f] = { content: fs.readFileSync(path.join(here, f), 'utf8') }

const input = { language: 'Solidity', sources, settings: SETTINGS }
const output = JSON.parse(solc.compile(JSON.stringify(input)))
const errors = (output.errors || []).filter((e) => e.severity === 'error')
for (const e of output.errors || []) console.error(e.formattedMessage || e.message)
if (errors.length) process.exit(1)

const artifacts = {}
for (const f of files) {
  const sha = createHash('sha256').update(sources[f].content, 'utf8').digest('hex')
  for (const [name, c] of Object.entries(output.contracts[f] || {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    artifacts[name] = {
      contractName: name,
      sourceName: `contracts/${f}`,
      sourceSha256: sha,
      compiler: { name: 'solc-js', version, settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer, metadata: SETTINGS.metadata } },
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    }
  }
}

let stale = 0
if (!check) fs.mkdirSync(outDir, { recursive: true })
for (const [name, art] of Object.entries(artifacts)) {
  const file = path.join(outDir, `${name}.json`)
  const text = JSON.stringify(art, null, 2) + '\n'
  if (check) {
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null
    if (old !== text) {
      console.error(`stale: contracts/artifacts/${name}.json differs from a fresh compile of ${art.sourceName}`)
      stale++
    }
  } else {
    const tmp = file + '.tmp'
    fs.writeFileSync(tmp, text)
    fs.renameSync(tmp, file)
    console.log(`wrote contracts/artifacts/${name}.json (${(art.bytecode.length - 2) / 2} bytes of init code)`)
  }
}
if (check) {
  if (stale) process.exit(1)
  console.log(`ok: ${Object.keys(artifacts).length} artifacts match solc ${version}`)
}
