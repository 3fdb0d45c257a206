import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadSpec } from '@weft/api-spec';
import { renderApiReference } from './api-docs.page.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

void describe('renderApiReference', () => {
  const spec = loadSpec();
  const html = renderApiReference(spec);

  void it('has an anchored section for every operation, with its method, path and summary', () => {
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const method of METHODS) {
        const op = item[method] as { operationId: string; summary?: string } | undefined;
        if (!op) continue;
        assert.ok(html.includes(`id="op-${op.operationId}"`), op.operationId);
        assert.ok(html.includes(`<code>${op.operationId}</code>`), op.operationId);
        const section = html.slice(html.indexOf(`id="op-${op.operationId}"`));
        assert.ok(
          section.includes(`${method.toUpperCase()}</span> <code class="path">/api/v1${path}</code>`),
        );
      }
    }
  });

  void it('documents every component schema with its fields, types and constraints', () => {
    for (const name of Object.keys(spec.components.schemas)) {
      assert.ok(html.includes(`id="schema-${name}"`), name);
    }
    const wg = html.slice(
      html.indexOf('id="schema-WireGuardSettings"'),
      html.indexOf('id="schema-IpsecSettings"'),
    );
    assert.match(wg, /<code>persistent_keepalive<\/code><\/td><td>integer<\/td><td>no<\/td>/);
    assert.match(wg, /from 0 to 65535/);
    assert.match(wg, /default <code>25<\/code>/);
    assert.match(wg, /read-only/);
    assert.match(wg, /write-only/);
    assert.match(html, /array of <a href="#schema-Cidr">Cidr<\/a>/);
    assert.match(html, /chosen by <code>type<\/code>/);
  });

  void it('lists parameters and responses of an operation', () => {
    const put = html.slice(html.indexOf('id="op-putConfig"'), html.indexOf('id="op-listRevisions"'));
    assert.match(put, /<code>dry_run<\/code><\/td><td>query<\/td><td>boolean<\/td>/);
    assert.match(put, /from 5 to 86400/);
    assert.match(put, /Request body <span class="req">required<\/span>/);
    assert.match(put, /<a href="#schema-ConfigDocument">ConfigDocument<\/a>/);
    assert.match(put, /<code>412<\/code>/);
    assert.match(put, /header <code>ETag<\/code>/);
  });

  void it('escapes every string from the spec', () => {
    const evil = structuredClone(spec);
    evil.info.title = 'A <b>bold</b> & "quoted" API';
    const health = evil.paths['/health'] as { get: { summary: string } };
    health.get.summary = '<script>alert(1)</script>';
    (evil.components.schemas.Name as Record<string, unknown>).description = 'x < y `<img src=x>`';
    const page = renderApiReference(evil);
    assert.ok(!page.includes('<script>'));
    assert.ok(!page.includes('<img'));
    assert.ok(!page.includes('<b>bold'));
    assert.ok(page.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(page.includes('A &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; API'));
    assert.ok(page.includes('x &lt; y <code>&lt;img src=x&gt;</code>'));
  });

  void it('is self-contained: no scripts and no external assets', () => {
    assert.ok(html.startsWith('<!doctype html>'));
    assert.doesNotMatch(html, /<script|<link|src=|@import|url\(/i);
    assert.doesNotMatch(html, /href="(?!#)/);
  });
});
