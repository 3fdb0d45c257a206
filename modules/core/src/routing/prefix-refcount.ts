// Several owners (links, static routes) can want the same prefix; the kernel object behind it must
// exist while at least one of them does. This holds the bookkeeping and no kernel state, so callers
// act on what acquire/release report.
import { canonicalPrefix } from '../common/ip.js';

export class PrefixRefCount {
  private readonly owners = new Map<string, Set<string>>();

  /** Returns true when `prefix` had no owner before: the caller must now create the kernel object. */
  acquire(prefix: string, owner: string): boolean {
    const key = canonicalPrefix(prefix);
    let set = this.owners.get(key);
    const first = set === undefined;
    if (!set) this.owners.set(key, (set = new Set()));
    set.add(owner);
    return first;
  }

  /**
   * Returns true when `owner` was the last one: the caller must now remove the kernel object.
   * Releasing what was not held changes nothing and returns false, so a retried release is harmless.
   */
  release(prefix: string, owner: string): boolean {
    const key = canonicalPrefix(prefix);
    const set = this.owners.get(key);
    if (!set?.delete(owner)) return false;
    if (set.size > 0) return false;
    this.owners.delete(key);
    return true;
  }

  /** Releases every prefix `owner` holds (the owner was deleted); returns those left with no owner. */
  releaseOwner(owner: string): string[] {
    const orphaned: string[] = [];
    for (const prefix of [...this.owners.keys()]) if (this.release(prefix, owner)) orphaned.push(prefix);
    return orphaned.sort();
  }

  ownersOf(prefix: string): string[] {
    return [...(this.owners.get(canonicalPrefix(prefix)) ?? [])].sort();
  }

  isHeld(prefix: string): boolean {
    return this.owners.has(canonicalPrefix(prefix));
  }

  /** Every prefix with at least one owner, canonical and sorted. */
  prefixes(): string[] {
    return [...this.owners.keys()].sort();
  }
}
