// c-source.mjs - reads the few C tables the browser must agree with, as text:
// enums, designated-initializer string tables, #define strings, and small
// functions that are only `if`/`switch`/`return` over enum constants, which
// are turned into JavaScript and run (every identifier in them must be a
// parameter, a known constant or a known function, else reading fails).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './adapter.mjs';

export function readSource(rel) {
    return readFileSync(path.join(ROOT, rel), 'utf8');
}

export function stripComments(src) {
    return src.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, ' ');
}

/** `typedef enum { A = 0, B, C } name;` -> Map(A => 0, B => 1, C => 2). */
export function parseEnum(src, name) {
    const m = new RegExp(`typedef\\s+enum\\s*\\{([^}]*)\\}\\s*${name}\\s*;`).exec(stripComments(src));
    if (!m) throw new Error(`enum ${name} not found`);
    const out = new Map();
    let next = 0;
    for (const part of m[1].split(',').map((s) => s.trim()).filter(Boolean)) {
        const [, id, value] = /^([A-Za-z_]\w*)\s*(?:=\s*(-?\d+))?$/.exec(part) || [];
        if (!id) throw new Error(`enum ${name}: cannot read "${part}"`);
        next = value !== undefined ? Number(value) : next;
        out.set(id, next++);
    }
    return out;
}

/** `... table[] = { [A] = "a", [B] = "b" };` -> Map(A => 'a', B => 'b'). */
export function parseStringTable(src, name) {
    const m = new RegExp(`\\b${name}\\s*\\[\\s*\\]\\s*=\\s*\\{([^}]*)\\}`).exec(stripComments(src));
    if (!m) throw new Error(`table ${name} not found`);
    const out = new Map();
    for (const [, id, text] of m[1].matchAll(/\[\s*([A-Za-z_]\w*)\s*\]\s*=\s*"([^"]*)"/g)) out.set(id, text);
    if (!out.size) throw new Error(`table ${name}: no [ID] = "text" entries`);
    return out;
}

/** Every `#define NAME "text"`. */
export function parseStringDefines(src) {
    const out = new Map();
    for (const [, id, text] of stripComments(src).matchAll(/^\s*#define\s+([A-Za-z_]\w*)\s+"([^"]*)"\s*$/gm)) out.set(id, text);
    return out;
}

/** A function definition: {params: ['from', 'to'], body: '...'} (the body without its braces). */
export function functionDef(src, name) {
    const text = stripComments(src);
    const m = new RegExp(`\\b${name}\\s*\\(([^)]*)\\)\\s*\\{`).exec(text);
    if (!m) throw new Error(`function ${name} not found`);
    const params = m[1].split(',').map((p) => p.trim()).filter((p) => p && p !== 'void')
        .map((p) => { const id = /([A-Za-z_]\w*)\s*(\[\s*\])?$/.exec(p); if (!id) throw new Error(`${name}: cannot read parameter "${p}"`); return id[1]; });
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    for (; i < text.length && depth; i++) {
        if (text[i] === '"') { i++; while (i < text.length && text[i] !== '"') { if (text[i] === '\\') i++; i++; } }
        else if (text[i] === '{') depth++;
        else if (text[i] === '}') depth--;
    }
    if (depth) throw new Error(`function ${name}: unbalanced braces`);
    return { params, body: text.slice(start, i - 1) };
}

const KEYWORDS = new Set(['if', 'else', 'return', 'switch', 'case', 'default', 'break', 'true', 'false']);

/**
 * Turns a C function made of if/switch/return over constants into a JS function.
 * constants: Map(C identifier -> JS value); functions: {cName: jsFunction}.
 */
export function compileFunction(src, name, { constants = new Map(), functions = {} } = {}) {
    const { params, body } = functionDef(src, name);
    const allowed = new Set([...params, ...Object.keys(functions), ...KEYWORDS]);
    const js = body.replace(/"(?:[^"\\]|\\.)*"|\b[A-Za-z_]\w*\b/g, (tok) => {
        if (tok.startsWith('"')) return tok;
        if (constants.has(tok)) return JSON.stringify(constants.get(tok));
        if (allowed.has(tok)) return tok;
        throw new Error(`${name}: cannot turn "${tok}" into JavaScript (update tests/unit-js/c-source.mjs)`);
    });
    if (/[^\w\s"'!=<>&|(){};:?,.+\-\\/%]/.test(js.replace(/"(?:[^"\\]|\\.)*"/g, '""'))) {
        throw new Error(`${name}: unexpected characters in ${JSON.stringify(js)}`);
    }
    // eslint-disable-next-line no-new-func
    const fn = new Function(...Object.keys(functions), ...params, `"use strict";\n${js}`);
    return (...args) => fn(...Object.values(functions), ...args);
}

/** Splits a C argument list at its top-level commas. */
export function splitArgs(text) {
    const out = [];
    let depth = 0, cur = '';
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (c === '"') { let j = i + 1; while (j < text.length && text[j] !== '"') { if (text[j] === '\\') j++; j++; } cur += text.slice(i, j + 1); i = j; continue; }
        if (c === '(') depth++;
        if (c === ')') depth--;
        if (c === ',' && depth === 0) { out.push(cur.trim()); cur = ''; continue; }
        cur += c;
    }
    if (cur.trim()) out.push(cur.trim());
    return out;
}

/**
 * A topic builder `int name(char *buf, size_t len, ...)` whose body is one
 * snprintf(buf, len, "fmt with %s", args...): returns a JS function of the
 * builder's remaining parameters that formats the same string.
 */
export function compileTopicBuilder(src, name, { constants = new Map(), functions = {} } = {}) {
    const { params, body } = functionDef(src, name);
    const calls = [...body.matchAll(/\bsnprintf\s*\(/g)];
    if (calls.length !== 1) throw new Error(`${name}: expected one snprintf, found ${calls.length}`);
    let depth = 1, i = calls[0].index + calls[0][0].length;
    const start = i;
    for (; i < body.length && depth; i++) {
        if (body[i] === '"') { i++; while (i < body.length && body[i] !== '"') { if (body[i] === '\\') i++; i++; } }
        else if (body[i] === '(') depth++;
        else if (body[i] === ')') depth--;
    }
    const [buf, len, fmt, ...args] = splitArgs(body.slice(start, i - 1));
    if (buf !== params[0] || len !== params[1] || !/^"[^"]*"$/.test(fmt)) throw new Error(`${name}: not snprintf(${params[0]}, ${params[1]}, "format", ...)`);
    const format = fmt.slice(1, -1);
    const specs = format.match(/%./g) || [];
    if (specs.some((s) => s !== '%s') || specs.length !== args.length) throw new Error(`${name}: format ${fmt} with ${args.length} arguments`);
    const rest = params.slice(2);
    const allowed = new Set([...rest, ...Object.keys(functions)]);
    const argFns = args.map((a) => {
        const js = a.replace(/"(?:[^"\\]|\\.)*"|\b[A-Za-z_]\w*\b/g, (tok) => {
            if (tok.startsWith('"')) return tok;
            if (constants.has(tok)) return JSON.stringify(constants.get(tok));
            if (allowed.has(tok)) return tok;
            throw new Error(`${name}: cannot turn "${tok}" in "${a}" into JavaScript`);
        });
        // eslint-disable-next-line no-new-func
        return new Function(...Object.keys(functions), ...rest, `"use strict"; return (${js});`);
    });
    return (...values) => {
        let k = 0;
        return format.replace(/%s/g, () => String(argFns[k++](...Object.values(functions), ...values)));
    };
}
