const SHIM = new URL('./fs-shim.mjs', import.meta.url).href;
export async function resolve(specifier, context, next) {
  if (
    (specifier === 'fs' || specifier === 'node:fs') &&
    (context.parentURL?.includes('@modelcontextprotocol/conformance') ||
      context.parentURL?.includes('/node_modules/conformance-next/'))
  ) {
    return { url: SHIM, shortCircuit: true };
  }
  return next(specifier, context);
}
