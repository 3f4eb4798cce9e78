// How numbers read in the app. Amounts arrive as exact decimal strings (or numbers from SQL
// results); they are shown rounded, never summed here.

/** `1234567.891` or `"1234567.891000"` as `€1,234,567.89`. */
export function euros(value: string | number | null | undefined): string {
  const n = typeof value === "string" ? Number(value) : value;
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return new Intl.NumberFormat("en-GB", { style: "currency", currency: "EUR" }).format(n);
}

/** Whole numbers with separators. */
export function count(value: number | string | null | undefined): string {
  const n = typeof value === "string" ? Number(value) : value;
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return new Intl.NumberFormat("en-GB", { maximumFractionDigits: 0 }).format(n);
}

/** A cell of a result table as text. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** Rows as CSV, with the columns in order; cells that a spreadsheet would run are quoted. */
export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  const quote = (v: string) => {
    const s = /^[=+\-@]/.test(v) ? `'${v}` : v;
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const lines = [columns.map(quote).join(",")];
  for (const r of rows) lines.push(columns.map((c) => quote(cell(r[c]))).join(","));
  return lines.join("\n") + "\n";
}
