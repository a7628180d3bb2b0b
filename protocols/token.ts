/**
 * Subject-token encoder: any entity id ⇄ a NATS subject token over `[A-Za-z0-9_-]`.
 *
 * NATS forbids `.`, `*`, `>` and whitespace inside a token; entity ids such as
 * `transcode|eu-central` contain other characters too. The encoding is:
 *   - `A-Z a-z 0-9 -` pass through unchanged (so `0x…` term ids and addresses stay readable);
 *   - every other UTF-8 byte, `_` included, becomes `_` + two upper-case hex digits;
 *   - the empty id becomes the single token `_` (a token may not be empty).
 * It is a bijection between strings and well-formed tokens, so `decodeToken(encodeToken(x)) === x`.
 */
const PASS = /^[A-Za-z0-9-]$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeToken(id: string): string {
  if (id === "") return "_";
  let out = "";
  for (const ch of id) {
    if (PASS.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of encoder.encode(ch)) out += "_" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

export function decodeToken(token: string): string {
  if (token === "_") return "";
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new TypeError(`not an encoded subject token: ${JSON.stringify(token)}`);
  const bytes: number[] = [];
  for (let i = 0; i < token.length; ) {
    if (token[i] === "_") {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new TypeError(`bad escape at ${i} in subject token ${JSON.stringify(token)}`);
      const byte = parseInt(hex, 16);
      // Canonical form only: a byte that passes through unescaped must not be escaped, so each
      // id has exactly one token (two subjects can never address the same actor).
      if (PASS.test(String.fromCharCode(byte))) throw new TypeError(`non-canonical escape _${hex} at ${i} in subject token ${JSON.stringify(token)}`);
      bytes.push(byte);
      i += 3;
    } else {
      bytes.push(token.charCodeAt(i));
      i += 1;
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}
