import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PrefixRefCount } from './prefix-refcount.js';

void describe('PrefixRefCount', () => {
  void it('asks for the kernel object on the first acquire only', () => {
    const refs = new PrefixRefCount();
    assert.equal(refs.acquire('10.1.0.0/16', 'link:a'), true);
    assert.equal(refs.acquire('10.1.0.0/16', 'route:static-1'), false);
    assert.deepEqual(refs.ownersOf('10.1.0.0/16'), ['link:a', 'route:static-1']);
  });

  void it('asks for removal only when the last owner releases', () => {
    const refs = new PrefixRefCount();
    refs.acquire('10.1.0.0/16', 'link:a');
    refs.acquire('10.1.0.0/16', 'link:b');
    assert.equal(refs.release('10.1.0.0/16', 'link:a'), false);
    assert.equal(refs.isHeld('10.1.0.0/16'), true);
    assert.equal(refs.release('10.1.0.0/16', 'link:b'), true);
    assert.equal(refs.isHeld('10.1.0.0/16'), false);
  });

  void it('counts an owner once however often it acquires', () => {
    const refs = new PrefixRefCount();
    refs.acquire('10.1.0.0/16', 'link:a');
    refs.acquire('10.1.0.0/16', 'link:a');
    assert.equal(refs.release('10.1.0.0/16', 'link:a'), true);
  });

  void it('treats a release of what is not held as a no-op', () => {
    const refs = new PrefixRefCount();
    assert.equal(refs.release('10.1.0.0/16', 'link:a'), false);
    refs.acquire('10.1.0.0/16', 'link:a');
    assert.equal(refs.release('10.1.0.0/16', 'link:b'), false);
    assert.equal(refs.isHeld('10.1.0.0/16'), true);
  });

  void it('compares prefixes by their canonical form', () => {
    const refs = new PrefixRefCount();
    refs.acquire('2001:DB8:0:0::/32', 'link:a');
    assert.equal(refs.acquire('2001:db8::/32', 'link:b'), false);
    assert.deepEqual(refs.prefixes(), ['2001:db8::/32']);
  });

  void it('releases everything an owner held, reporting the prefixes left without owner', () => {
    const refs = new PrefixRefCount();
    refs.acquire('10.1.0.0/16', 'link:a');
    refs.acquire('10.2.0.0/16', 'link:a');
    refs.acquire('10.2.0.0/16', 'link:b');
    refs.acquire('10.3.0.0/16', 'link:b');
    assert.deepEqual(refs.releaseOwner('link:a'), ['10.1.0.0/16']);
    assert.deepEqual(refs.prefixes(), ['10.2.0.0/16', '10.3.0.0/16']);
  });

  void it('refuses a prefix with host bits set', () => {
    assert.throws(() => new PrefixRefCount().acquire('10.1.0.1/16', 'link:a'), /host bits/);
  });
});
