import { BlockList, isIP } from "node:net";

export type AddressClass = "public" | "loopback" | "private" | "link-local" | "metadata" | "reserved";

const ranges: [AddressClass, string, number, "ipv4" | "ipv6"][] = [
  // Cloud metadata endpoints first: they sit inside link-local / unique-local ranges.
  ["metadata", "169.254.169.254", 32, "ipv4"],
  ["metadata", "169.254.170.2", 32, "ipv4"],
  ["metadata", "fd00:ec2::254", 128, "ipv6"],
  ["loopback", "127.0.0.0", 8, "ipv4"],
  ["loopback", "::1", 128, "ipv6"],
  ["private", "10.0.0.0", 8, "ipv4"],
  ["private", "172.16.0.0", 12, "ipv4"],
  ["private", "192.168.0.0", 16, "ipv4"],
  ["private", "100.64.0.0", 10, "ipv4"],
  ["private", "fc00::", 7, "ipv6"],
  ["link-local", "169.254.0.0", 16, "ipv4"],
  ["link-local", "fe80::", 10, "ipv6"],
  ["reserved", "0.0.0.0", 8, "ipv4"],
  ["reserved", "192.0.0.0", 24, "ipv4"],
  ["reserved", "192.0.2.0", 24, "ipv4"],
  ["reserved", "198.18.0.0", 15, "ipv4"],
  ["reserved", "198.51.100.0", 24, "ipv4"],
  ["reserved", "203.0.113.0", 24, "ipv4"],
  ["reserved", "224.0.0.0", 4, "ipv4"],
  ["reserved", "240.0.0.0", 4, "ipv4"],
  ["reserved", "::", 128, "ipv6"],
  ["reserved", "100::", 64, "ipv6"],
  ["reserved", "2001:db8::", 32, "ipv6"],
  ["reserved", "ff00::", 8, "ipv6"],
];

const lists = new Map<AddressClass, BlockList>();
for (const [cls, network, prefix, family] of ranges) {
  const list = lists.get(cls) ?? new BlockList();
  list.addSubnet(network, prefix, family);
  lists.set(cls, list);
}

/**
 * The IPv4 address an IPv6 address carries (IPv4-mapped, IPv4-translated, NAT64 and the
 * deprecated IPv4-compatible forms), if any. The address is first put in the URL parser's
 * canonical compressed form, so `64:ff9b:0:0:0:0:a9fe:a9fe` and `64:ff9b::a9fe:a9fe` agree.
 */
function embeddedIpv4(address: string): string | undefined {
  let lower: string;
  try {
    lower = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const prefix = "(?:::ffff:0:|::ffff:|64:ff9b::|::)";
  const dotted = new RegExp(`^${prefix}(\\d+\\.\\d+\\.\\d+\\.\\d+)$`).exec(lower);
  if (dotted) return dotted[1];
  const hex = new RegExp(`^${prefix}([0-9a-f]{1,4}):([0-9a-f]{1,4})$`).exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return undefined;
}

/** Where an address points: only `public` is reachable without the operator's say-so. */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 0) return "reserved";
  if (family === 6) {
    const v4 = embeddedIpv4(address);
    if (v4) return classifyAddress(v4);
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  for (const [cls, list] of lists) if (list.check(address, type)) return cls;
  return "public";
}
