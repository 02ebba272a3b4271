/**
 * Where the bounded contexts of app/domain are, and what their public surfaces (index.ts) re-export,
 * for the project's lint rules. A context is a folder directly under app/domain; its index.ts is the
 * only file another context, a route or a job may import (decision 022).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DOMAIN = path.join(REPO, "app", "domain");
const EXTENSIONS = [".ts", ".tsx", ".js", ".mjs"];

/** The absolute path an import names, without resolving its extension (null for a package). */
export function importTarget(fromFile, specifier) {
  if (specifier.startsWith("~/")) return path.join(REPO, "app", specifier.slice(2));
  if (specifier.startsWith(".")) return path.resolve(path.dirname(fromFile), specifier);
  return null;
}

/** The context folder a path lies in ("orders" for app/domain/orders/…), or null. */
export function contextOf(absolutePath) {
  const relative = path.relative(DOMAIN, absolutePath);
  if (relative.startsWith("..") || path.isAbsolute(relative) || relative === "") return null;
  return relative.split(path.sep)[0];
}

/** Whether a target names a context's public surface: the folder itself or its index. */
export function isContextSurface(target) {
  const context = contextOf(target);
  if (!context) return false;
  const folder = path.join(DOMAIN, context);
  return target === folder || target === path.join(folder, "index") || EXTENSIONS.some((ext) => target === path.join(folder, `index${ext}`));
}

function indexFileOf(target) {
  const context = contextOf(target);
  if (!context) return null;
  for (const ext of EXTENSIONS) {
    const file = path.join(DOMAIN, context, `index${ext}`);
    if (existsSync(file)) return file;
  }
  return null;
}

const cache = new Map();

/**
 * The names a context's index.ts re-exports from `.server` modules, as values (types are erased):
 * in the browser bundle Remix empties every `.server` module, so these are undefined there.
 * Barrels name what they re-export (`export { a, b } from "./x.server"`); an `export *` from a
 * .server module is refused by the boundaries rule, so the list here is complete.
 */
export function serverNamesOfSurface(target) {
  const file = indexFileOf(target);
  if (!file) return new Set();
  const mtime = statSync(file).mtimeMs;
  const hit = cache.get(file);
  if (hit && hit.mtime === mtime) return hit.names;
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, "");
  const names = new Set();
  for (const match of text.matchAll(/export\s+(type\s+)?\{([^}]*)\}\s*from\s*["']([^"']+)["']/g)) {
    const [, typeOnly, list, source] = match;
    if (typeOnly || !/\.server(?:$|[./])/.test(source)) continue;
    for (const part of list.split(",")) {
      const item = part.trim();
      if (!item || item.startsWith("type ")) continue;
      const alias = /\s+as\s+(\S+)$/.exec(item);
      names.add(alias ? alias[1] : item);
    }
  }
  cache.set(file, { mtime, names });
  return names;
}
