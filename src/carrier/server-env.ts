/**
 * The environment a proxied server process starts with: intentguard's own, minus intentguard's
 * settings and secrets (`INTENTGUARD_*`: the agent's grant, webhook secrets, the alert token), which are
 * none of the server's business — a server holding the agent's grant could open sessions as the agent.
 */
export function serverEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.toUpperCase().startsWith('INTENTGUARD_')) out[k] = v;
  return out;
}
