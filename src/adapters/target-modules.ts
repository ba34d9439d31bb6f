// Which linear layers an adapter wraps, matched as PEFT's `check_target_module_exists` does: a list of names
// matches a module whose path equals a name or ends with "." + name; a single string is a regular expression
// that must match the whole path; "all-linear" takes every linear layer except the output head.

import { RoadsterError } from '../errors.ts';
import type { LinearSite } from '../models/linear.ts';

/** PEFT's `target_modules`: names (exact or suffix), one regex, or every linear layer. */
export type TargetModules = { kind: 'names'; names: readonly string[] } | { kind: 'regex'; pattern: string } | { kind: 'all-linear' };

/** Reads `target_modules` as written in adapter_config.json or given by a user. */
export function parseTargetModules(value: unknown, where: string): TargetModules {
  if (value === 'all-linear') return { kind: 'all-linear' };
  if (typeof value === 'string') {
    try {
      new RegExp(value);
    } catch (e) {
      throw new RoadsterError('E_ADAPTER', `${where}: target_modules "${value}" is not a valid regular expression (${(e as Error).message})`);
    }
    return { kind: 'regex', pattern: value };
  }
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return { kind: 'names', names: value as string[] };
  throw new RoadsterError('E_ADAPTER', `${where}: target_modules must be a list of module names, a regex string or "all-linear", got ${JSON.stringify(value)}`);
}

export function targetModulesToJson(t: TargetModules): string | string[] {
  switch (t.kind) {
    case 'names':
      return [...t.names];
    case 'regex':
      return t.pattern;
    case 'all-linear':
      return 'all-linear';
  }
}

/** Whether the adapter wraps the layer at `site`. */
export function matchesTarget(t: TargetModules, site: LinearSite): boolean {
  switch (t.kind) {
    case 'names':
      return t.names.some((n) => site.path === n || site.path.endsWith(`.${n}`));
    case 'regex':
      return new RegExp(`^(?:${t.pattern})$`).test(site.path);
    case 'all-linear':
      return true; // sites are the decoder's projections; the output head is never a site
  }
}

/** The sites an adapter wraps; an error names the targets when nothing matches. */
export function selectSites(t: TargetModules, sites: readonly LinearSite[], where: string): LinearSite[] {
  const chosen = sites.filter((s) => matchesTarget(t, s));
  if (chosen.length === 0) {
    const examples = [...new Set(sites.map((s) => s.kind))].join(', ');
    throw new RoadsterError(
      'E_ADAPTER',
      `${where}: target_modules ${JSON.stringify(targetModulesToJson(t))} match no linear layer of the model; its projections are ${examples}`,
    );
  }
  return chosen;
}
