import { loadCatalog, rowsForTypes, type CatalogRow } from '../catalog';
import { COMPONENT_TYPES, type ComponentType } from '../sdk';
import { UsageError, intOption, list, parse, type Io } from './common';

export const CATALOG_USAGE = `usage: iacs-probe catalog [--sl N] [--type embedded|network|host|application ...] [--json]

  Lists the IEC 62443-4-2 rows (CR, RE, EDR/HDR/NDR/SAR) for the component types (default all),
  only those required at SL N when --sl is given, with the levels at which each is required.`;

function marks(row: CatalogRow): string {
  return [1, 2, 3, 4].map((l) => (row.sl.includes(l as 1) ? String(l) : '.')).join(' ');
}

export function catalogCommand(args: string[], io: Io): number {
  const { values } = parse(args, { sl: { type: 'string' }, type: { type: 'string', multiple: true }, json: { type: 'boolean' } }, { min: 0, max: 0, names: '' });
  const types = list(values.type);
  for (const t of types) if (!(COMPONENT_TYPES as readonly string[]).includes(t)) throw new UsageError(`--type ${t}: expected one of ${COMPONENT_TYPES.join(', ')}`);
  const sl = intOption('sl', values.sl, 1, 4);
  const catalog = loadCatalog();
  let rows = rowsForTypes(catalog, (types.length ? types : COMPONENT_TYPES) as ComponentType[]);
  if (sl !== undefined) rows = rows.filter((r) => r.sl.some((l) => l <= sl));
  if (values.json) {
    io.out.write(JSON.stringify({ standard: catalog.standard, sl: sl ?? null, types: types.length ? types : [...COMPONENT_TYPES], count: rows.length, requirements: rows }, null, 2) + '\n');
    return 0;
  }
  const width = Math.max(...rows.map((r) => r.id.length));
  io.out.write(`${'ID'.padEnd(width)}  FR   SL 1-4   TITLE\n`);
  for (const r of rows) {
    const flag = r.confidence === 'high' ? '' : ` [${r.confidence}${r.note ? `: ${r.note}` : ''}]`;
    io.out.write(`${r.id.padEnd(width)}  ${r.fr}  ${marks(r)}  ${r.title}${flag}\n`);
  }
  io.out.write(`${rows.length} rows${sl ? ` required at SL ${sl}` : ''} for ${types.length ? types.join(', ') : 'all component types'}. ${catalog.about.split('. ').slice(1, 3).join('. ')}.\n`);
  return 0;
}
