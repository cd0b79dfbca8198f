/**
 * Which addresses the feed fetcher may connect to (docs/design.md, "Feeds"): public unicast
 * only. A feed URL is whatever a user typed, so without this rule any user could make the
 * server request its own loopback services, the LAN, or a cloud metadata endpoint (SSRF).
 *
 * The classification is ipaddr.js's (`range()`), the library Express already depends on
 * through proxy-addr: it knows the IANA special-purpose registries for both families, so we
 * keep no hand-written list of prefixes. Only the `unicast` range is allowed; everything
 * else (loopback, private, link-local, unique-local, multicast, carrier-grade NAT,
 * unspecified, broadcast, reserved, documentation, 6to4/Teredo tunnels...) is refused.
 * IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */
import ipaddr from 'ipaddr.js';

/** Why an address is refused, or undefined when it may be used. */
export function refusedRange(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  const range = parsed.range();
  return range === 'unicast' ? undefined : range;
}

/** A feed's address was refused by the policy (SSRF). */
export class RefusedAddressError extends Error {
  override readonly name = 'RefusedAddressError';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`refused to connect to ${host} (${address}, ${range}): only public addresses are fetched (FEEDS_ALLOW_PRIVATE_NETWORKS=true lifts this)`);
  }
}
