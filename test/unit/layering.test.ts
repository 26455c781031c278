// Rule: the layout holds. core/ imports nothing of HTTP or the database (no hono, kysely, drivers, no http/ or
// store/), http/ never touches the database (no kysely, drivers or store/), reading the configuration loads no
// database driver, and no module imports itself back through a circle of imports.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../src');

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Every module a file imports or re-exports: relative ones as repository paths, packages by name. */
function importsOf(file: string, { types = true } = {}): string[] {
  const source = readFileSync(file, 'utf8');
  const text = types ? source : source.replace(/^\s*(?:import|export)\s+type\b[^;]*;/gm, '');
  const specs = [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm), ...text.matchAll(/import\('([^']+)'\)/g)].map(
    (m) => m[1] as string,
  );
  return specs.map((s) => (s.startsWith('.') ? relative(SRC, normalize(join(dirname(file), s.replace(/\.js$/, '.ts')))) : s));
}

const graph = new Map(sources().map((f) => [relative(SRC, f), importsOf(f)]));
/** The same without `import type` (erased at run time): what node loads. */
const runtimeGraph = new Map(sources().map((f) => [relative(SRC, f), importsOf(f, { types: false })]));
const DATABASE = /^(kysely|better-sqlite3|mysql2|pg)(\/|$)/;

describe('layering', () => {
  it('sees the source tree', () => {
    expect(graph.size).toBeGreaterThan(30);
    expect(graph.get('core/access.ts')).toContain('core/verify-cache.ts');
  });

  it('core/ imports no HTTP and no database code', () => {
    const offending = [...graph]
      .filter(([file]) => file.startsWith('core/'))
      .flatMap(([file, deps]) =>
        deps.filter((d) => /^(hono|@hono\/)/.test(d) || DATABASE.test(d) || /^(http|store|import)\//.test(d)).map((d) => `${file} → ${d}`),
      );
    expect(offending).toEqual([]);
  });

  it('http/ imports no database code', () => {
    const offending = [...graph]
      .filter(([file]) => file.startsWith('http/') || file.startsWith('views/'))
      .flatMap(([file, deps]) => deps.filter((d) => DATABASE.test(d) || d.startsWith('store/')).map((d) => `${file} → ${d}`));
    expect(offending).toEqual([]);
  });

  it('config/ reaches no database code, however indirectly: loading the configuration loads no driver', () => {
    // Type-only imports are erased at run time; they are skipped here, so this is the graph node actually loads.
    const reached = (start: string) => {
      const seen = new Set<string>();
      const visit = (file: string) => {
        for (const dep of runtimeGraph.get(file) ?? []) {
          if (seen.has(dep)) continue;
          seen.add(dep);
          visit(dep);
        }
      };
      visit(start);
      return [...seen];
    };
    const offending = [...runtimeGraph.keys()]
      .filter((file) => file === 'config.ts' || file.startsWith('config/'))
      .flatMap((file) =>
        reached(file)
          .filter((d) => DATABASE.test(d) || d.startsWith('store/'))
          .map((d) => `${file} ⇢ ${d}`),
      );
    expect(offending).toEqual([]);
    // The same walk does see the drivers from the wiring, so it would see them from config/ too.
    expect(reached('runtime.ts')).toEqual(expect.arrayContaining(['kysely', 'better-sqlite3', 'mysql2', 'pg']));
  });

  it('has no import circles', () => {
    const circles: string[] = [];
    const visit = (file: string, path: string[]) => {
      for (const dep of graph.get(file) ?? []) {
        if (!graph.has(dep)) continue;
        const at = path.indexOf(dep);
        if (at >= 0) circles.push([...path.slice(at), dep].join(' → '));
        else if (path.length < 40) visit(dep, [...path, dep]);
      }
    };
    for (const file of graph.keys()) visit(file, [file]);
    expect([...new Set(circles)]).toEqual([]);
  });
});
