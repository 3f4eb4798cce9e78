import { describe, expect, it } from "vitest";
import { choose } from "./chat";

describe("choose", () => {
  const reply = "\u201cskins\u201d matches more than one reseller: which one do you mean? Skins Cosmetics or Skins Cosmetics NL";
  it("puts the option in place of the ambiguous name", () => {
    expect(choose("How much did Skins sell in June?", reply, "Skins Cosmetics NL")).toBe(
      "How much did Skins Cosmetics NL sell in June?",
    );
  });
  it("appends the option when the name cannot be found", () => {
    expect(choose("How much did they sell?", reply, "Skins Cosmetics")).toBe("How much did they sell? (Skins Cosmetics)");
  });
});
