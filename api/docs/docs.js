// Renders /openapi.json without any external asset: a list of operations
// with their parameters, request bodies, responses and schemas.
"use strict";

(function () {
  const METHODS = ["get", "post", "put", "patch", "delete"];
  let doc;

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // A small, safe Markdown subset: paragraphs, **bold**, `code`, *em*,
  // and pipe tables. Text is never inserted as HTML.
  function md(text) {
    const box = el("div", { class: "md" });
    if (!text) return box;
    const blocks = text.split(/\n{2,}/);
    for (const block of blocks) {
      const lines = block.split("\n");
      if (lines.length >= 2 && /^\|/.test(lines[0]) && /^\|[-| :]+\|$/.test(lines[1])) {
        const row = (l) => l.replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
        const table = el("table", {});
        table.append(el("tr", {}, row(lines[0]).map((c) => el("th", {}, inline(c)))));
        for (const l of lines.slice(2)) table.append(el("tr", {}, row(l).map((c) => el("td", {}, inline(c)))));
        box.append(table);
      } else {
        box.append(el("p", {}, inline(block)));
      }
    }
    return box;
  }

  function inline(text) {
    const out = [];
    const re = /(`[^`]+`|\*\*[^*]+\*\*|\*[^*]+\*)/g;
    let last = 0, m;
    while ((m = re.exec(text))) {
      if (m.index > last) out.push(text.slice(last, m.index));
      const t = m[0];
      if (t[0] === "`") out.push(el("code", { text: t.slice(1, -1) }));
      else if (t.startsWith("**")) out.push(el("strong", { text: t.slice(2, -2) }));
      else out.push(el("em", { text: t.slice(1, -1) }));
      last = m.index + t.length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function resolve(ref) {
    if (!ref.startsWith("#/")) return null;
    return ref.slice(2).split("/").reduce((o, k) => (o == null ? o : o[k.replace(/~1/g, "/").replace(/~0/g, "~")]), doc);
  }
  const refName = (ref) => ref.split("/").pop();
  const deref = (o) => { let n = 0; while (o && o.$ref && n++ < 10) o = resolve(o.$ref); return o; };

  function typeLabel(s) {
    if (!s) return "any";
    if (s.$ref) return refName(s.$ref);
    let t = Array.isArray(s.type) ? s.type.join(" | ") : s.type;
    if (!t && s.const !== undefined) t = JSON.stringify(s.const);
    if (!t && s.enum) t = "enum";
    if (!t && s.oneOf) t = s.oneOf.map(typeLabel).join(" | ");
    if (!t && s.allOf) t = s.allOf.map(typeLabel).join(" & ");
    if (t === "array" && s.items) t = typeLabel(s.items) + "[]";
    if (s.format) t += " (" + s.format + ")";
    return t || "any";
  }

  function constraints(s) {
    const c = [];
    if (s.const !== undefined) c.push("= " + JSON.stringify(s.const));
    if (s.enum) c.push("one of " + s.enum.map((v) => JSON.stringify(v)).join(", "));
    if (s.minLength !== undefined) c.push("min length " + s.minLength);
    if (s.maxLength !== undefined) c.push("max length " + s.maxLength);
    if (s.minimum !== undefined) c.push("≥ " + s.minimum);
    if (s.maximum !== undefined) c.push("≤ " + s.maximum);
    if (s.default !== undefined) c.push("default " + JSON.stringify(s.default));
    if (s.pattern) c.push("pattern " + s.pattern);
    if (s.minProperties) c.push("at least " + s.minProperties + " member(s)");
    if (s.additionalProperties === false) c.push("no other members");
    return c;
  }

  // Renders a schema as a tree; $refs expand on click, cycles are cut.
  function schemaTree(schema, seen) {
    seen = seen || new Set();
    const ul = el("ul", {});
    const s = schema && schema.$ref ? deref(schema) : schema;
    if (!s) return ul;
    const notes = constraints(s);
    if (s.description && schema.$ref) ul.append(el("li", { class: "note" }, inline(s.description.split("\n")[0])));
    if (notes.length) ul.append(el("li", { class: "note" }, notes.join("; ")));
    for (const part of ["allOf", "oneOf", "anyOf"]) {
      if (!s[part]) continue;
      ul.append(el("li", { class: "note" }, part === "allOf" ? "all of:" : "one of:"));
      for (const sub of s[part]) ul.append(el("li", {}, node(null, sub, false, seen)));
    }
    if (s.properties) {
      const req = new Set(s.required || []);
      for (const [name, p] of Object.entries(s.properties)) ul.append(el("li", {}, node(name, p, req.has(name), seen)));
    }
    if (s.type === "array" && s.items) ul.append(el("li", {}, node("[ ]", s.items, false, seen)));
    return ul;
  }

  function node(name, p, required, seen) {
    const frag = el("span", {});
    if (name) frag.append(el("span", { class: "prop", text: name }), required ? el("span", { class: "req", text: " *" }) : "", ": ");
    const label = el("span", { class: p.$ref ? "type ref" : "type", text: typeLabel(p) });
    frag.append(label);
    const d = p.$ref ? null : p.description;
    if (d) frag.append(" ", el("span", { class: "note" }, "— ", inline(d.split("\n")[0])));
    const inner = p.$ref ? deref(p) : p;
    const expandable = inner && (inner.properties || inner.allOf || inner.oneOf || inner.items || inner.enum || inner.const !== undefined || constraints(inner).length);
    if (!expandable) return frag;
    if (p.$ref) {
      if (seen.has(p.$ref)) return frag;
      let open = false, sub;
      label.title = "Show " + refName(p.$ref);
      label.addEventListener("click", () => {
        open = !open;
        if (open) { const s2 = new Set(seen); s2.add(p.$ref); sub = schemaTree(p, s2); frag.append(sub); }
        else if (sub) sub.remove();
      });
      return frag;
    }
    frag.append(schemaTree(p, seen));
    return frag;
  }

  function schemaBlock(schema) {
    const box = el("div", { class: "schema" });
    const top = el("div", {}, el("span", { class: "type" + (schema.$ref ? " ref" : ""), text: typeLabel(schema) }));
    box.append(top, schemaTree(schema, new Set(schema.$ref ? [schema.$ref] : [])));
    return box;
  }

  function params(op, item) {
    const list = [...(item.parameters || []), ...(op.parameters || [])].map(deref);
    if (!list.length) return null;
    return [el("h3", { text: "Parameters" }), el("table", {},
      el("tr", {}, el("th", { text: "name" }), el("th", { text: "in" }), el("th", { text: "type" }), el("th", { text: "description" })),
      list.map((p) => el("tr", {},
        el("td", {}, el("code", { text: p.name }), p.required ? el("span", { class: "req", text: " *" }) : ""),
        el("td", { text: p.in }),
        el("td", { class: "mono" }, typeLabel(p.schema), constraints(p.schema || {}).length ? el("div", { class: "note" }, constraints(p.schema).join("; ")) : ""),
        el("td", {}, inline(p.description || "")))))];
  }

  function content(c) {
    return Object.entries(c || {}).map(([mt, media]) => el("div", {},
      el("div", { class: "note" }, el("code", { text: mt })),
      media.schema ? schemaBlock(media.schema) : ""));
  }

  function responses(op) {
    const rows = Object.entries(op.responses || {}).map(([code, r]) => {
      const resp = deref(r);
      const cls = "status s" + code[0];
      const headers = Object.keys(resp.headers || {});
      return el("tr", {},
        el("td", { class: cls, text: code }),
        el("td", {}, inline(resp.description || ""),
          headers.length ? el("div", { class: "note" }, "headers: ", headers.map((h) => el("code", { text: h }))) : "",
          content(resp.content)));
    });
    return [el("h3", { text: "Responses" }), el("table", {}, el("tr", {}, el("th", { text: "status" }), el("th", { text: "body" })), rows)];
  }

  // Where a path is served when it is not (only) this server: its own servers.
  function servedOn(item) {
    if (!item.servers) return null;
    return el("p", { class: "note" }, "Served on: ",
      item.servers.flatMap((s, i) => [i ? "; " : "", el("code", { text: s.url }), s.description ? " " : "", ...inline(s.description || "")]));
  }

  function operation(path, method, op, item) {
    const id = op.operationId || method + path;
    const secured = op.security ? op.security.length > 0 : (doc.security || []).length > 0;
    const det = el("details", { class: "op", id: id, "data-search": (method + " " + path + " " + (op.summary || "")).toLowerCase() },
      el("summary", {},
        el("span", { class: "method " + method, text: method }),
        el("span", { class: "path", text: path }),
        el("span", { class: "summary", text: op.summary || "" }),
        el("span", { class: "lock", text: secured ? "bearer token" : "public" })),
      el("div", { class: "body" },
        md(op.description),
        servedOn(item),
        params(op, item),
        op.requestBody ? [el("h3", { text: "Request body" }), content(deref(op.requestBody).content)] : null,
        responses(op)));
    return det;
  }

  function render() {
    const main = document.getElementById("main");
    const nav = document.getElementById("nav");
    main.textContent = "";
    const info = doc.info || {};
    main.append(el("section", { class: "intro" },
      el("h1", {}, info.title || "API", " ", el("small", { class: "note", text: "v" + (info.version || "") })),
      info.summary ? el("p", {}, inline(info.summary)) : "",
      md(info.description)));

    const byTag = new Map();
    for (const [path, item] of Object.entries(doc.paths || {})) {
      for (const m of METHODS) {
        if (!item[m]) continue;
        const tag = (item[m].tags || ["other"])[0];
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push([path, m, item[m], item]);
      }
    }
    const tagDesc = Object.fromEntries((doc.tags || []).map((t) => [t.name, t.description]));
    for (const [tag, ops] of byTag) {
      main.append(el("h2", { id: "tag-" + tag, text: tag }), tagDesc[tag] ? el("p", { class: "note", text: tagDesc[tag] }) : "");
      nav.append(el("h4", { text: tag }));
      for (const [path, m, op, item] of ops) {
        const det = operation(path, m, op, item);
        main.append(det);
        const link = el("a", { href: "#" + det.id, "data-search": det.dataset.search },
          el("span", { class: "method " + m, text: m }), el("span", { class: "mono", text: path }));
        link.addEventListener("click", () => { det.open = true; });
        nav.append(link);
      }
    }

    main.append(el("h2", { id: "schemas", text: "Schemas" }));
    nav.append(el("h4", { text: "schemas" }));
    for (const [name, s] of Object.entries((doc.components || {}).schemas || {})) {
      const ref = "#/components/schemas/" + name;
      const det = el("details", { class: "op", id: "schema-" + name, "data-search": name.toLowerCase() },
        el("summary", {}, el("span", { class: "path", text: name })),
        el("div", { class: "body" }, md(s.description), schemaBlock({ $ref: ref })));
      main.append(det);
      const link = el("a", { href: "#schema-" + name, "data-search": name.toLowerCase() }, el("span", { class: "mono", text: name }));
      link.addEventListener("click", () => { det.open = true; });
      nav.append(link);
    }

    const target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") { target.open = true; target.scrollIntoView(); }
  }

  function filter(q) {
    q = q.trim().toLowerCase();
    for (const e of document.querySelectorAll("[data-search]")) {
      e.classList.toggle("hidden", q !== "" && !e.dataset.search.includes(q));
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("filter").addEventListener("input", (e) => filter(e.target.value));
    fetch("/openapi.json", { headers: { Accept: "application/json" } })
      .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then((d) => { doc = d; render(); })
      .catch((e) => {
        const s = document.getElementById("status");
        s.className = "err";
        s.textContent = "Could not load /openapi.json: " + e.message;
      });
  });
})();
