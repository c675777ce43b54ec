// The parts of yaml intentguard uses. yaml's package entry for Node is its CommonJS build, 72 files
// loaded one by one (≈ 0.3 s of a stdio proxy's start on a loaded machine): the build replaces the
// compiled dist/lib/yaml.js by one file of the same build (scripts/post-build.ts). Every import of
// yaml in src/ goes through here (types may still come from 'yaml': type imports load nothing).
export { LineCounter, isMap, isScalar, parse, parseDocument } from 'yaml';
