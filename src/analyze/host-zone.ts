import { normalizeHost } from './targets.js';

const ipv4ToInt = (ip: string): number | undefined => {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
};

/**
 * Does `host` fall inside `zone`? `example.com` covers itself and its subdomains, `*.example.com` only
 * subdomains, `10.0.0.0/8` is a CIDR, anything else must match exactly. Both sides are normalized.
 */
export function hostInZone(host: string, zone: string): boolean {
  const h = normalizeHost(host);
  if (!h) return false;
  const z = zone.trim().toLowerCase();
  if (z.includes('/')) {
    const [net, bits] = z.split('/');
    const hi = ipv4ToInt(h),
      ni = ipv4ToInt(net ?? '');
    const b = Number(bits);
    if (hi === undefined || ni === undefined || !Number.isInteger(b) || b < 0 || b > 32) return false;
    const mask = b === 0 ? 0 : (~0 << (32 - b)) >>> 0;
    return (hi & mask) >>> 0 === (ni & mask) >>> 0;
  }
  if (z.startsWith('*.')) {
    const base = normalizeHost(z.slice(2));
    return base !== undefined && h.endsWith(`.${base}`);
  }
  const base = normalizeHost(z);
  return base !== undefined && (h === base || h.endsWith(`.${base}`));
}
