// The chat's small pieces of logic, kept out of the page so they can be tested.

/**
 * The question asked again after a "which one do you mean?" reply, with the ambiguous name
 * (quoted in the reply as “name”) replaced by the option picked.
 */
export function choose(question: string, reply: string, option: string): string {
  const said = /\u201c([^\u201d]+)\u201d/.exec(reply)?.[1];
  const at = said ? question.toLowerCase().indexOf(said.toLowerCase()) : -1;
  if (!said || at < 0) return `${question} (${option})`;
  return question.slice(0, at) + option + question.slice(at + said.length);
}
