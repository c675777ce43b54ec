import { isGlob, locationMatcher, pathish, type LocationMatcher } from '../intent/location-match.js';
import type { PathResolver } from '../intent/real-path.js';
import { resourcesOf, type NamedResource } from '../intent/resource-args.js';
import { sensitivePathCategory, sensitiveToolCategory } from '../intent/sensitive.js';
import type { Intent, SensitiveCategory, ToolGrant } from '../model/intent.js';
import { hostInZone } from '../analyze/host-zone.js';
import type { Action, Finding } from '../model/policy.js';

/** Rule ids of resource findings: they concern a call's arguments, so no session-wide approval covers them. */
export const RESOURCE_RULES = [
  'intent/resource-scope',
  'intent/sensitive-resource',
  'intent/argument-constraint',
] as const;

export interface ResourceScopeActions {
  /** A location outside the intent's explicit `resources` (any tool). Default `deny`. */
  readonly outsideResources: Action;
  /** A location an unapproved tool names outside every path the approved tools are limited to. Default `reauthorize`. */
  readonly outsideImplied: Action;
  /** A read of a sensitive category the intent does not name. Default `reauthorize`. */
  readonly sensitive: Action;
}

/** What a tool call is checked with: its arguments, whether the intent names the tool, its listed schema. */
export interface ResourceCall {
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly approved: boolean;
  readonly inputSchema?: unknown;
  readonly description?: string;
}

const show = (v: string) => JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);

/** The path prefixes and globs the approved tools' own argument constraints limit them to. */
function impliedPaths(intent: Intent): { prefixes: string[]; globs: string[] } {
  const prefixes: string[] = [],
    globs: string[] = [];
  if (intent.tools === '*') return { prefixes, globs };
  for (const t of intent.tools) {
    for (const c of Object.values(t.args ?? {})) {
      prefixes.push(...(c.prefix ?? []).filter(pathish));
      globs.push(...(c.glob ?? []).filter(pathish));
    }
  }
  return { prefixes, globs };
}

/** Values the tool's own grant approves exactly (`equals` / `oneOf`): named by the approver, so not "beyond" it. */
function exactlyApproved(grant: ToolGrant | undefined, r: NamedResource): boolean {
  const c = grant?.args?.[r.arg.split(/[.[]/)[0]!];
  if (!c) return false;
  return (
    ('equals' in c && (c.equals === r.value || (Array.isArray(c.equals) && c.equals.includes(r.value)))) ||
    Boolean(c.oneOf?.includes(r.value))
  );
}

/**
 * The intent's resource scope, compiled once: what every tool call must respect whatever the tool
 * is called.
 *  - `resources.paths` / `resources.hosts`: every path (URL host) any tool names must lie within them.
 *  - Without `resources.paths`, a tool the intent does not name is held to the paths the approved
 *    tools are limited to (their `prefix`/`glob` constraints), when there are any.
 *  - A location of a sensitive category (environment, credentials, secrets, private keys) named by a
 *    tool the intent does not name (by any tool once the intent declares `resources`), or an
 *    unapproved tool whose description says it returns one, is beyond the approval unless the intent
 *    lists the category in `resources.sensitive`, has `sensitivity: secret`, or the tool's grant names
 *    that exact value.
 * With a resolver (the server runs on this host) paths are checked where they really lead.
 */
export function compileResourceScope(intent: Intent, actions: ResourceScopeActions, resolver?: PathResolver) {
  const explicit = intent.resources?.paths;
  const onHost = (list: readonly string[]) =>
    list.some(pathish) || list.length === 0 ? resolver : undefined;
  const explicitPaths: LocationMatcher | undefined =
    explicit &&
    locationMatcher(
      explicit.filter((p) => !isGlob(p)),
      explicit.filter(isGlob),
      onHost(explicit),
    );
  const implied = impliedPaths(intent);
  const impliedAll = [...implied.prefixes, ...implied.globs];
  const impliedPaths_ =
    !explicit && impliedAll.length > 0
      ? locationMatcher(implied.prefixes, implied.globs, onHost(impliedAll))
      : undefined;
  const hosts = intent.resources?.hosts;
  const allowed = new Set<SensitiveCategory>(
    intent.sensitivity === 'secret'
      ? ['environment', 'credentials', 'secrets', 'private-keys']
      : (intent.resources?.sensitive ?? []),
  );
  const grants = new Map(intent.tools === '*' ? [] : intent.tools.map((t) => [t.name, t] as const));
  const declared = intent.resources !== undefined;

  return (call: ResourceCall): Finding[] => {
    const out: Finding[] = [];
    // Sensitive categories bind the tools the intent does not name, and every tool once the intent declares resources.
    const sensitiveApplies = !call.approved || declared;
    if (!sensitiveApplies && !explicitPaths && !hosts) return out;
    const scan = resourcesOf(call.args, call.inputSchema);
    if (!scan.complete) {
      out.push({
        rule: 'intent/resource-scope',
        action: actions.outsideResources,
        severity: 'high',
        code: 'ERR_ARGS_UNSCANNABLE',
        reason: `beyond the approval: the arguments of ${call.tool} are too large or too deeply nested to check every location they name`,
      });
    }
    const grant = grants.get(call.tool);
    for (const r of scan.resources) {
      if (r.kind === 'path') {
        const outside = explicitPaths?.outside(r.value) ?? [];
        if (outside.length > 0) {
          out.push({
            rule: 'intent/resource-scope',
            action: actions.outsideResources,
            severity: 'high',
            reason: `beyond the approval: ${call.tool} argument "${r.arg}" names ${show(r.value)}${outside[0] !== r.value ? ` (really ${show(outside[0]!)})` : ''}, outside the approved resources ${JSON.stringify(explicit)}`,
            evidence: { tool: call.tool, arg: r.arg },
          });
        } else if (!call.approved && impliedPaths_) {
          const out2 = impliedPaths_.outside(r.value);
          if (out2.length > 0) {
            out.push({
              rule: 'intent/resource-scope',
              action: actions.outsideImplied,
              severity: 'high',
              reason: `beyond the approval: unapproved ${call.tool} argument "${r.arg}" names ${show(r.value)}${out2[0] !== r.value ? ` (really ${show(out2[0]!)})` : ''}, outside the paths the approved tools are limited to ${JSON.stringify(impliedAll)}`,
              evidence: { tool: call.tool, arg: r.arg },
            });
          }
        }
        const forms = !sensitiveApplies ? [] : resolver ? [r.value, resolver(r.value).real] : [r.value];
        const category = forms.map(sensitivePathCategory).find((c) => c !== undefined);
        if (sensitiveApplies && category && !allowed.has(category) && !exactlyApproved(grant, r)) {
          out.push({
            rule: 'intent/sensitive-resource',
            action: actions.sensitive,
            severity: 'high',
            reason: `beyond the approval: ${call.tool} argument "${r.arg}" names ${show(r.value)}, which holds ${category}; the intent does not name that category`,
            evidence: { tool: call.tool, arg: r.arg, category },
          });
        }
      } else if (hosts) {
        let host: string | undefined;
        try {
          host = new URL(r.value).hostname;
        } catch {
          host = undefined;
        }
        if (!host || !hosts.some((z) => hostInZone(host!, z))) {
          out.push({
            rule: 'intent/resource-scope',
            action: actions.outsideResources,
            severity: 'high',
            reason: `beyond the approval: ${call.tool} argument "${r.arg}" names ${show(r.value)}, outside the approved hosts ${JSON.stringify(hosts)}`,
            evidence: { tool: call.tool, arg: r.arg },
          });
        }
      }
    }
    if (!call.approved && call.description) {
      const category = sensitiveToolCategory(call.description);
      if (category && !allowed.has(category)) {
        out.push({
          rule: 'intent/sensitive-resource',
          action: actions.sensitive,
          severity: 'high',
          reason: `beyond the approval: unapproved ${call.tool} deals in ${category} (its description says so); the intent does not name that category`,
          evidence: { tool: call.tool, category },
        });
      }
    }
    return out;
  };
}
