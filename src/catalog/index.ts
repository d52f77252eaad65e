import * as fs from 'node:fs';
import type { ComponentType, FrId, SecurityLevel } from '../sdk';
import { packagePath } from '../paths';

export type RequirementClass = 'CR' | 'EDR' | 'HDR' | 'NDR' | 'SAR';

/** One selectable row of IEC 62443-4-2 (a CR, a type-specific requirement, or an enhancement RE). */
export interface CatalogRow {
  readonly id: string;
  readonly title: string;
  readonly fr: FrId;
  readonly kind: 'requirement' | 'enhancement';
  readonly class: RequirementClass;
  /** For an enhancement: the id of the requirement it enhances. */
  readonly base?: string;
  readonly appliesTo: readonly ComponentType[];
  /** Security levels (SL-C) at which the row is required; cumulative (n in the list => n+1 too). */
  readonly sl: readonly SecurityLevel[];
  readonly confidence: 'high' | 'medium' | 'conflict';
  readonly note?: string;
}

export interface Catalog {
  readonly standard: string;
  readonly about: string;
  readonly sources: string;
  readonly frs: Readonly<Record<FrId, string>>;
  readonly requirements: readonly CatalogRow[];
}

export const CATALOG_FILE = packagePath('src', 'catalog', 'catalog.json');

let cached: Catalog | undefined;

/** The 4-2 catalog shipped with the tool (data only; consistency is policed by test/catalog). */
export function loadCatalog(): Catalog {
  cached ??= JSON.parse(fs.readFileSync(CATALOG_FILE, 'utf8')) as Catalog;
  return cached;
}

/** Rows that apply to a component of any of these types. */
export function rowsForTypes(catalog: Catalog, types: readonly ComponentType[]): CatalogRow[] {
  return catalog.requirements.filter((r) => r.appliesTo.some((t) => types.includes(t)));
}

/** Rows required at security level `sl` (cumulative) for any of these types. */
export function rowsRequiredAt(catalog: Catalog, types: readonly ComponentType[], sl: number): CatalogRow[] {
  return rowsForTypes(catalog, types).filter((r) => r.sl.some((l) => l <= sl));
}
