/** The `h` template tag of the HTML reporters: every interpolated value is escaped unless it is `Raw`. */
import { escapeMarkup } from './text';

/** Markup that is already safe; everything else interpolated into `h` is escaped. */
export class Raw {
  constructor(readonly text: string) {}
}

type Part = Raw | string | number | boolean | null | undefined | readonly Part[];

function show(part: Part): string {
  if (part instanceof Raw) return part.text;
  if (Array.isArray(part)) return part.map(show).join('');
  if (part === null || part === undefined || part === false) return '';
  return escapeMarkup(String(part));
}

export function h(strings: TemplateStringsArray, ...values: Part[]): Raw {
  let out = strings[0];
  values.forEach((v, i) => {
    out += show(v) + strings[i + 1];
  });
  return new Raw(out);
}
