import { readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';

const pathArg = { path: { type: 'string', description: 'absolute path inside the served folder' } } as const;
const TOOLS = [
  {
    name: 'list_directory',
    description: 'List the entries of a directory ([FILE] / [DIR] prefixes).',
    inputSchema: { type: 'object', properties: pathArg, required: ['path'] },
  },
  {
    name: 'read_text_file',
    description: 'Read a UTF-8 text file.',
    inputSchema: { type: 'object', properties: pathArg, required: ['path'] },
  },
  {
    name: 'write_file',
    description: 'Create or overwrite a text file.',
    inputSchema: {
      type: 'object',
      properties: { ...pathArg, content: { type: 'string' } },
      required: ['path', 'content'],
    },
  },
] as const;

const text = (t: string, isError = false): CallToolResult => ({
  content: [{ type: 'text', text: t }],
  ...(isError ? { isError } : {}),
});

/** The real path of `target` (or of its parent, for a file about to be written), if it lies inside `root`. */
async function inside(root: string, target: unknown, forWrite: boolean): Promise<string> {
  if (typeof target !== 'string' || !isAbsolute(target)) throw new Error('path must be an absolute path');
  const abs = resolve(target);
  // A file about to be created has no real path yet: its folder's, plus its name.
  const real = await realpath(abs).catch(async (e: NodeJS.ErrnoException) => {
    if (!forWrite || e.code !== 'ENOENT') throw e;
    return join(await realpath(dirname(abs)), basename(abs));
  });
  const rel = relative(root, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel))
    throw new Error(`access denied: ${target} is outside ${root}`);
  return real;
}

async function callTool(root: string, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  if (name === 'list_directory') {
    const entries = await readdir(await inside(root, args.path, false), { withFileTypes: true });
    return text(entries.map((e) => `${e.isDirectory() ? '[DIR]' : '[FILE]'} ${e.name}`).join('\n'));
  }
  if (name === 'read_text_file') return text(await readFile(await inside(root, args.path, false), 'utf8'));
  if (name === 'write_file') {
    if (typeof args.content !== 'string') throw new Error('content must be a string');
    await writeFile(await inside(root, args.path, true), args.content);
    return text(`wrote ${String(args.path)}`);
  }
  return text(`unknown tool: ${name}`, true);
}

/**
 * The demo's MCP server (`intentguard demo-server ROOT`, hidden): a small filesystem server on the
 * SDK's stdio transport with the three tools the demo uses, confined to ROOT (real paths, symlinks
 * resolved). It ships with the package, so `intentguard demo` runs from an install, where
 * `@modelcontextprotocol/server-filesystem` (a dev dependency) is absent. intentguard, not this
 * server, is what keeps the demo agent inside `project/`.
 *
 * @example
 * ```sh
 * intentguard stdio --intent intent.yaml -- intentguard demo-server /tmp/folder
 * ```
 */
export async function demoServerCommand(folder: string): Promise<void> {
  const root = await realpath(folder);
  const server = new Server(
    { name: 'intentguard-demo-filesystem', version: '1.0.0' },
    { capabilities: { tools: {} } },
  );
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [...TOOLS] }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    try {
      return await callTool(root, req.params.name, req.params.arguments ?? {});
    } catch (e) {
      return text((e as Error).message, true);
    }
  });
  await server.connect(new StdioServerTransport());
}
