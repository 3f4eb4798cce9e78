import { describe, expect, it } from "vitest";
import { count, euros, toCsv } from "./format";

describe("format", () => {
  it("shows exact decimal strings as euros", () => {
    expect(euros("8381.561539")).toBe("€8,381.56");
    expect(euros(-195)).toBe("-€195.00");
    expect(euros(null)).toBe("–");
  });
  it("counts with separators", () => {
    expect(count(1234567)).toBe("1,234,567");
  });
  it("writes CSV a spreadsheet will not run", () => {
    const csv = toCsv(["a", "b"], [{ a: "=HYPERLINK(1)", b: 'x,"y"' }]);
    expect(csv).toBe(`a,b\n'=HYPERLINK(1),"x,""y"""\n`);
  });
});
