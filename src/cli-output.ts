// What the CLI writes for people: text made safe for a terminal, one line per value someone sent.

/**
 * Control characters a terminal would act on (C0 but tab and newline, DEL, C1) and the marks that reorder
 * text (bidirectional overrides and isolates). Reasons, names and ids come from whoever sent a request,
 * signals included: printed raw they could clear the screen, retitle the window or hide text.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Text as a terminal shows it safely: each unsafe character as its `\uXXXX` escape. */
export function visible(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export const out = (line = '') => process.stdout.write(`${visible(line)}\n`);
// JSON escapes control characters itself, and its readers get the values as they are.
export const printJson = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/** A value someone sent, on one line: a newline in a reason must not start a line of its own. */
export const one = (text: string | undefined): string => (text ?? '').replace(/\s+/g, ' ');
