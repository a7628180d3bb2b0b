/**
 * Large integers kept exact. Event files carry int64 wei amounts (`fees`, `pricePerComputeUnit`)
 * that JSON.parse would round above 2^53; Node 20 has no source-text reviver. Integer literals of
 * 16 or more digits outside strings are quoted before parsing, so they arrive as decimal strings
 * and the schemas turn them into bigint exactly. event-file.ts parses a file plainly first (the
 * events' fast path accepts safe integers only, which plain parsing reads exactly) and makes this
 * exact parse only for records that leave the fast path; a text without such a literal needs none.
 *
 * The check is on number tokens, not on any 16 digits: in valid JSON a number starts the text
 * or follows `[`, `,` or `:` (and whitespace), so a text whose only long digit runs are inside
 * strings (addresses such as `0x00000000000000000000…`, ids) is parsed as is, without the
 * character loop. A match inside a string (`"a: 1234567890123456"`) only costs that loop,
 * which quotes nothing there.
 */
// A run of 16 digits where a number token may start: the text's start, or after `[`, `,` or `:`
// (JSON whitespace and a minus sign between).
const LONG_NUMBER_TOKEN = /(?:^|[[,:])[ \t\n\r]*-?\d{16}/;

/**
 * Whether some run of ≥ 16 digits may be a number token. Runs inside strings follow other
 * characters (`0x…`, letters, `-` inside ids) and are not seen; a false positive (`"a: 1234…"`
 * inside a string) only costs the quoting loop, which leaves strings alone.
 */
export function hasLongNumberToken(text: string): boolean {
  return LONG_NUMBER_TOKEN.test(text);
}

/** Wraps every integer literal (outside strings) of ≥ 16 digits in quotes; other text unchanged. */
export function quoteLongIntegers(text: string): string {
  let out = "";
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) {
      inString = true;
      continue;
    }
    const isMinus = c === 45;
    if (isMinus || (c >= 48 && c <= 57)) {
      const start = isMinus ? i + 1 : i;
      let j = start;
      while (j < text.length && isDigit(text.charCodeAt(j))) j++;
      const digitsEnd = j;
      // the rest of the number token: fraction and exponent
      while (j < text.length && isNumberChar(text.charCodeAt(j))) j++;
      if (j === digitsEnd && digitsEnd - start >= 16) {
        out += text.slice(last, i) + '"' + text.slice(i, j) + '"';
        last = j;
      }
      i = j - 1;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Characters that may continue a JSON number after its integer digits: 0-9 . e E + - */
function isNumberChar(c: number): boolean {
  return isDigit(c) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45;
}
