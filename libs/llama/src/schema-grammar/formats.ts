/**
 * JSON Schema `format` to GBNF: the contents of a JSON string (between its quotes) for the formats
 * we can enforce. Each grammar is a conservative subset of the format, chosen so that everything it
 * allows passes ajv-formats' full checks (and stricter validators): real calendar days without
 * Feb 29, no leap seconds, lowercase RFC 4122 UUIDs, and so on. Every format is plain ASCII without
 * quotes or backslashes, so no JSON escaping is involved.
 */
import { RuleSet, UnsupportedSchema } from './rules';

const HOUR = '([01] [0-9] | "2" [0-3])';
const MINUTE = '[0-5] [0-9]';

function date(rules: RuleSet): string {
  // Years 0001-9999 (year 0 trips Python's datetime). Days 01-28 in every month, 29-30 except in
  // February, 31 in the long months; Feb 29 is left out because a grammar cannot tell leap years apart cheaply.
  const year = '([1-9] [0-9]{3} | "0" ([1-9] [0-9]{2} | "0" ([1-9] [0-9] | "0" [1-9])))';
  const day = '"0" [1-9] | "1" [0-9] | "2" [0-8]';
  return rules.add(
    'date',
    `${year} "-" (("0" [1-9] | "1" [0-2]) "-" (${day}) | ("0" [13-9] | "1" [0-2]) "-" ("29" | "30") | ("0" [13578] | "1" [02]) "-31")`,
  );
}

function time(rules: RuleSet): string {
  // RFC 3339 full-time: the offset is required (ajv-formats' `time` rejects a time without one);
  // second 60 is left out (ajv allows it only as a real leap second, 23:59:60 UTC).
  const offset = `("Z" | [+\\x2D] ${HOUR} ":" ${MINUTE})`;
  return rules.add('time', `${HOUR} ":" ${MINUTE} ":" ${MINUTE} ("." [0-9]{1,9})? ${offset}`);
}

function duration(rules: RuleSet): string {
  // ajv-formats' ISO 8601 duration: P, then date parts (Y M D in order), a T with time parts (H M S
  // in order), or weeks alone; at least one part, and a T only before a time part.
  const n = rules.add('duration-number', '[0-9]{1,9}');
  const datePart = `${n} "Y" (${n} "M")? (${n} "D")? | ${n} "M" (${n} "D")? | ${n} "D"`;
  const timePart = rules.add('duration-time', `"T" (${n} "H" (${n} "M")? (${n} "S")? | ${n} "M" (${n} "S")? | ${n} "S")`);
  return rules.add('duration', `"P" ((${datePart}) ${timePart}? | ${timePart} | ${n} "W")`);
}

/** A DNS label of 1 to `max` letters, digits and inner hyphens. */
function label(rules: RuleSet, max: number): string {
  return rules.add(`label-${max}`, `[a-zA-Z0-9] ([a-zA-Z0-9-]{0,${max - 2}} [a-zA-Z0-9])?`);
}

function email(rules: RuleSet): string {
  // Dot-atoms of common characters (local part at most 63 characters), then two to four labels
  // ending in a letters-only top-level domain.
  const atom = rules.add('email-atom', '[a-zA-Z0-9_+-]{1,15}');
  return rules.add('email', `${atom} ("." ${atom}){0,3} "@" (${label(rules, 32)} "."){1,3} [a-zA-Z]{2,12}`);
}

function hostname(rules: RuleSet): string {
  // Up to six labels of up to 40 characters stay under the 253-character limit.
  const part = label(rules, 40);
  return rules.add('hostname', `${part} ("." ${part}){0,5}`);
}

function ipv4(rules: RuleSet): string {
  const octet = rules.add('ipv4-octet', '"25" [0-5] | "2" [0-4] [0-9] | "1" [0-9] [0-9] | [1-9] [0-9] | [0-9]');
  return rules.add('ipv4', `${octet} "." ${octet} "." ${octet} "." ${octet}`);
}

function ipv6(rules: RuleSet): string {
  // Eight groups, or `::` standing for one or more zero groups with at most seven around it. The
  // dotted IPv4 tail is left out; groups are lowercase, as RFC 5952 recommends.
  const h16 = rules.add('ipv6-group', '[0-9a-f]{1,4}');
  const groups = (count: number): string => [h16, ...Array<string>(count - 1).fill(`":" ${h16}`)].join(' ');
  const upTo = (count: number): string => (count === 0 ? '' : count === 1 ? ` ${h16}?` : ` (${h16} (":" ${h16}){0,${count - 1}})?`);
  const compressed = Array.from({ length: 8 }, (_, left) => `${left === 0 ? '' : `${groups(left)} `}"::"${upTo(7 - left)}`);
  return rules.add('ipv6', [`${h16} (":" ${h16}){7}`, ...compressed].join(' | '));
}

function uuid(rules: RuleSet): string {
  // Version 1-8 and the RFC 4122 variant, so stricter checkers (zod's uuid) accept it as well.
  return rules.add('uuid', '[0-9a-f]{8} "-" [0-9a-f]{4} "-" [1-8] [0-9a-f]{3} "-" [89ab] [0-9a-f]{3} "-" [0-9a-f]{12}');
}

const FORMATS: Readonly<Record<string, (rules: RuleSet) => string>> = {
  date,
  time,
  'date-time': (rules) => rules.add('date-time', `${date(rules)} "T" ${time(rules)}`),
  duration,
  email,
  hostname,
  ipv4,
  ipv6,
  uuid,
};

/** The formats formatGrammar can enforce. */
export const SUPPORTED_FORMATS: readonly string[] = Object.keys(FORMATS);

/** A GBNF rule name for the JSON text between the quotes of a string in `format`. */
export function formatGrammar(rules: RuleSet, format: string, path: string): string {
  if (!Object.hasOwn(FORMATS, format)) {
    throw new UnsupportedSchema('format', path, `'${format}' is not one of ${SUPPORTED_FORMATS.join(', ')}`);
  }
  return FORMATS[format](rules);
}
