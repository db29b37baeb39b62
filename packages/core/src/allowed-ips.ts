// Allowed-IPs routing table: which peer owns a destination (outbound) and may use a source (inbound).
// A path-compressed binary trie per family, like the kernel's allowedips.c: a node stores the masked
// prefix bits it stands for, so a lookup compares whole prefixes and only branches where prefixes
// diverge. Lookups allocate nothing.

import { addressLength, type IpFamily, type IpPrefix, maskPrefix, maxPrefixLength } from "./ip.js";

interface TrieNode<T> {
  /** Prefix bits, masked to `length`. */
  bits: Uint8Array;
  length: number;
  zero: TrieNode<T> | null;
  one: TrieNode<T> | null;
  hasValue: boolean;
  value: T | undefined;
}

/** Bit `index` (0 = most significant) of `bytes` starting at `offset`. */
function bitAt(bytes: Uint8Array, offset: number, index: number): number {
  return (bytes[offset + (index >> 3)]! >> (7 - (index & 7))) & 1;
}

/**
 * Whether the first `node.length` bits of the address at `offset` equal the node's prefix. Bytes
 * before `fromByte` are already known to match (they were checked against an ancestor).
 */
function matches<T>(node: TrieNode<T>, address: Uint8Array, offset: number, fromByte = 0): boolean {
  const fullBytes = node.length >> 3;
  const bits = node.bits;
  for (let i = fromByte; i < fullBytes; i++) {
    if (bits[i] !== address[offset + i]) return false;
  }
  const rest = node.length & 7;
  if (rest === 0) return true;
  const mask = (0xff00 >> rest) & 0xff;
  return ((address[offset + fullBytes]! ^ bits[fullBytes]!) & mask) === 0;
}

/** Number of leading bits `a` and `b` share, at most `limit`. */
function commonPrefixLength(a: Uint8Array, b: Uint8Array, limit: number): number {
  let bit = 0;
  while (bit < limit && bitAt(a, 0, bit) === bitAt(b, 0, bit)) bit++;
  return bit;
}

function childFor<T>(node: TrieNode<T>, bits: Uint8Array, offset: number): TrieNode<T> | null {
  return bitAt(bits, offset, node.length) === 0 ? node.zero : node.one;
}

function setChild<T>(parent: TrieNode<T>, child: TrieNode<T>): void {
  if (bitAt(child.bits, 0, parent.length) === 0) parent.zero = child;
  else parent.one = child;
}

function newNode<T>(bits: Uint8Array, length: number): TrieNode<T> {
  return { bits, length, zero: null, one: null, hasValue: false, value: undefined };
}

export class AllowedIps<T> {
  #v4: TrieNode<T> | null = null;
  #v6: TrieNode<T> | null = null;

  /**
   * Routes `prefix` to `value`. Host bits are ignored (10.0.0.1/24 means 10.0.0.0/24). A prefix that
   * is already present moves to the new value, as WireGuard does.
   */
  insert(prefix: IpPrefix, value: T): void {
    validatePrefix(prefix);
    const { bytes: bits, length } = maskPrefix(prefix);
    let root = this.#root(prefix.family);
    let parent: TrieNode<T> | null = null;
    let node = root;
    while (node !== null && node.length <= length && matches(node, bits, 0)) {
      if (node.length === length) {
        node.hasValue = true;
        node.value = value;
        return;
      }
      parent = node;
      node = childFor(node, bits, 0);
    }
    const added = newNode<T>(bits, length);
    added.hasValue = true;
    added.value = value;
    let replacement: TrieNode<T>;
    if (node === null) {
      replacement = added;
    } else {
      const common = commonPrefixLength(node.bits, bits, Math.min(node.length, length));
      if (common === length) {
        // The new prefix contains the existing subtree.
        setChild(added, node);
        replacement = added;
      } else {
        // The prefixes diverge at bit `common`: join them under a valueless branch node.
        const branch = newNode<T>(
          maskPrefix({ family: prefix.family, bytes: bits, length: common }).bytes,
          common,
        );
        setChild(branch, node);
        setChild(branch, added);
        replacement = branch;
      }
    }
    if (parent === null) root = replacement;
    else setChild(parent, replacement);
    this.#setRoot(prefix.family, root);
  }

  /** Removes every prefix routed to `value` (compared with ===). */
  removeByValue(value: T): void {
    this.#v4 = prune(this.#v4, value);
    this.#v6 = prune(this.#v6, value);
  }

  /**
   * The value of the longest prefix containing the address at `bytes[offset..]` (4 or 16 bytes by
   * family), or undefined. `offset` lets callers look up straight from a packet header.
   */
  lookup(family: IpFamily, bytes: Uint8Array, offset = 0): T | undefined {
    let node = family === 4 ? this.#v4 : this.#v6;
    let found: T | undefined;
    const max = family === 4 ? 32 : 128;
    if (bytes.length < offset + (family === 4 ? 4 : 16)) {
      throw new RangeError(`AllowedIps.lookup: need ${max / 8} address bytes at offset ${offset}`);
    }
    let verifiedBytes = 0;
    while (node !== null && matches(node, bytes, offset, verifiedBytes)) {
      if (node.hasValue) found = node.value;
      if (node.length === max) break;
      verifiedBytes = node.length >> 3;
      node = childFor(node, bytes, offset);
    }
    return found;
  }

  /** Prefixes routed to `value` (masked), IPv4 first, each family in address order. */
  entries(value: T): IpPrefix[] {
    const out: IpPrefix[] = [];
    collect(this.#v4, 4, value, out);
    collect(this.#v6, 6, value, out);
    return out;
  }

  clear(): void {
    this.#v4 = null;
    this.#v6 = null;
  }

  #root(family: IpFamily): TrieNode<T> | null {
    return family === 4 ? this.#v4 : this.#v6;
  }

  #setRoot(family: IpFamily, root: TrieNode<T> | null): void {
    if (family === 4) this.#v4 = root;
    else this.#v6 = root;
  }
}

function validatePrefix(prefix: IpPrefix): void {
  if (prefix.family !== 4 && prefix.family !== 6) {
    throw new RangeError(`AllowedIps: family must be 4 or 6, got ${String(prefix.family)}`);
  }
  if (
    !(prefix.bytes instanceof Uint8Array) ||
    prefix.bytes.length !== addressLength(prefix.family)
  ) {
    throw new RangeError(
      `AllowedIps: an IPv${prefix.family} prefix needs ${addressLength(prefix.family)} bytes`,
    );
  }
  const max = maxPrefixLength(prefix.family);
  if (!Number.isInteger(prefix.length) || prefix.length < 0 || prefix.length > max) {
    throw new RangeError(`AllowedIps: IPv${prefix.family} prefix length must be 0–${max}`);
  }
}

/** Clears `value` from the subtree and drops branch nodes that no longer join two subtrees. */
function prune<T>(node: TrieNode<T> | null, value: T): TrieNode<T> | null {
  if (node === null) return null;
  node.zero = prune(node.zero, value);
  node.one = prune(node.one, value);
  if (node.hasValue && node.value === value) {
    node.hasValue = false;
    node.value = undefined;
  }
  if (node.hasValue) return node;
  if (node.zero === null) return node.one;
  if (node.one === null) return node.zero;
  return node;
}

function collect<T>(node: TrieNode<T> | null, family: IpFamily, value: T, out: IpPrefix[]): void {
  if (node === null) return;
  if (node.hasValue && node.value === value) {
    out.push({ family, bytes: Uint8Array.from(node.bits), length: node.length });
  }
  collect(node.zero, family, value, out);
  collect(node.one, family, value, out);
}
