/**
 * Just enough HTML reading for the web checks: forms and their inputs, links, frames, meta refresh.
 * A tolerant tag scanner, not a DOM: device web UIs are often hand-written or generated HTML, and what a
 * browser would render from scripts is out of reach anyway (the docs say so).
 */

export interface HtmlInput {
  /** Lower-cased; "text" when absent. */
  type: string;
  name?: string;
  value?: string;
}

export interface HtmlForm {
  action?: string;
  /** Lower-cased; "get" when absent (HTML default). */
  method: string;
  enctype?: string;
  inputs: HtmlInput[];
}

export interface HtmlDocument {
  title?: string;
  forms: HtmlForm[];
  /** href of <a> and <area>, src of <frame> and <iframe>, in document order, as written. */
  links: string[];
  frames: string[];
  metaRefresh?: { delaySeconds: number; url?: string };
  /** <input type=password> anywhere, also outside a form (pages that log in by script). */
  passwordFields: number;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1].toLowerCase() === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

export function parseAttributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([^\s"'=<>`/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const name = m[1].toLowerCase();
    if (!(name in out)) out[name] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

export function parseHtml(source: string): HtmlDocument {
  // Comments, scripts and styles hold no markup a browser would parse as such.
  const text = source.replace(/<!--[\s\S]*?(?:-->|$)/g, '').replace(/<(script|style)\b[^>]*>[\s\S]*?(?:<\/\1\s*>|$)/gi, '');
  const doc: HtmlDocument = { forms: [], links: [], frames: [], passwordFields: 0 };
  let form: HtmlForm | undefined;
  const titleMatch = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(text);
  if (titleMatch) doc.title = decodeEntities(titleMatch[1]).replace(/\s+/g, ' ').trim();
  const tagRe = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)\b((?:[^>"']|"[^"]*"|'[^']*')*)>/g;
  for (let m = tagRe.exec(text); m; m = tagRe.exec(text)) {
    const closing = m[1] === '/';
    const tag = m[2].toLowerCase();
    if (closing) {
      if (tag === 'form') form = undefined;
      continue;
    }
    const attrs = parseAttributes(m[3]);
    switch (tag) {
      case 'form':
        form = { method: (attrs.method || 'get').toLowerCase(), inputs: [], ...(attrs.action !== undefined ? { action: attrs.action } : {}), ...(attrs.enctype ? { enctype: attrs.enctype.toLowerCase() } : {}) };
        doc.forms.push(form);
        break;
      case 'input':
      case 'button':
      case 'select':
      case 'textarea': {
        const type = tag === 'input' ? (attrs.type || 'text').toLowerCase() : tag === 'button' ? (attrs.type || 'submit').toLowerCase() : tag;
        if (type === 'password') doc.passwordFields += 1;
        form?.inputs.push({ type, ...(attrs.name !== undefined ? { name: attrs.name } : {}), ...(attrs.value !== undefined ? { value: attrs.value } : {}) });
        break;
      }
      case 'a':
      case 'area':
        if (attrs.href) doc.links.push(attrs.href);
        break;
      case 'frame':
      case 'iframe':
        if (attrs.src) {
          doc.frames.push(attrs.src);
          doc.links.push(attrs.src);
        }
        break;
      case 'meta':
        if ((attrs['http-equiv'] ?? '').toLowerCase() === 'refresh' && attrs.content !== undefined) {
          const r = /^\s*(\d+(?:\.\d+)?)?\s*(?:[;,]\s*(?:url\s*=\s*)?['"]?([^'"]*)['"]?)?\s*$/i.exec(attrs.content);
          if (r) doc.metaRefresh = { delaySeconds: Number(r[1] ?? 0), ...(r[2] ? { url: r[2].trim() } : {}) };
        }
        break;
      default:
        break;
    }
  }
  return doc;
}

/** Whether a response body is HTML by its Content-Type (or, without one, by its first bytes). */
export function looksLikeHtml(contentType: string | undefined, body: Buffer): boolean {
  if (contentType) return /\b(text\/html|application\/xhtml\+xml)\b/i.test(contentType);
  return /^\s*(<!doctype html|<html|<\?xml)/i.test(body.subarray(0, 512).toString('latin1'));
}
