import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { isIPv4, isIPv6 } from 'node:net';
import { SUPPORTED_FORMATS, formatGrammar } from './formats';
import { load, rng } from './regular-gbnf';
import { RuleSet, UnsupportedSchema } from './rules';

const ajv = addFormats(new Ajv({ strict: true }));

function compile(format: string): { grammar: string; re: RegExp; sample: (rand: () => number) => string } {
  const rules = new RuleSet();
  const grammar = rules.grammar(formatGrammar(rules, format, '/properties/x/format'));
  return { grammar, ...load(grammar) };
}

/** Independent checks, stricter than ajv-formats where the grammar promises more. */
const isRealDate = (s: string): boolean => /^\d{4}-\d\d-\d\d$/.test(s) && new Date(`${s}T00:00:00Z`).toISOString().slice(0, 10) === s;
const TIME = /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
const CHECKS: Record<string, (s: string) => boolean> = {
  date: isRealDate,
  time: (s) => TIME.test(s),
  'date-time': (s) => isRealDate(s.slice(0, 10)) && s[10] === 'T' && TIME.test(s.slice(11)) && !Number.isNaN(Date.parse(s)),
  duration: (s) => /^P(?!$)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$|^P\d+W$/.test(s),
  email: (s) => /^[^@\s]{1,64}@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/i.test(s) && s.length <= 254,
  hostname: (s) => s.length <= 253 && s.split('.').every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(l)),
  ipv4: isIPv4,
  ipv6: isIPv6,
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(s),
};

const VALID: Record<string, string[]> = {
  date: ['2024-01-31', '1999-02-28', '2000-12-31', '0001-01-01', '0010-05-05', '0999-09-09', '2023-04-30', '2023-11-29'],
  time: ['00:00:00Z', '23:59:59.123456789+14:00', '12:30:00-05:30'],
  'date-time': ['2024-03-15T10:20:30Z', '1970-01-01T00:00:00.5+01:00'],
  duration: ['P1Y', 'P1Y2M3DT4H5M6S', 'PT0S', 'P2W', 'P3M', 'PT1H30M', 'P1DT12H', 'P0D'],
  email: ['a@b.co', 'first.last+tag@mail.example.org', 'x_y-z@sub.domain.com'],
  hostname: ['localhost', 'example.com', 'a-b.c-d.e', 'xn--bcher-kva.example', '123.example'],
  ipv4: ['0.0.0.0', '255.255.255.255', '192.168.1.10', '10.0.0.1'],
  ipv6: ['::', '::1', '1::', 'fe80::1', '2001:db8::8a2e:370:7334', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3::6:7:8'],
  uuid: ['123e4567-e89b-12d3-a456-426614174000', 'f47ac10b-58cc-4372-a567-0e02b2c3d479'],
};

const INVALID: Record<string, string[]> = {
  date: ['0000-01-01', '2024-02-30', '2024-02-29', '2024-13-01', '2024-00-10', '2024-04-31', '2024-06-31', '2024-01-00', '2024-1-01', '24-01-01'],
  time: ['24:00:00Z', '12:60:00Z', '12:00:60Z', '12:00:00', '12:00:00+24:00', '12:00:00z', '12:00Z', '12:00:00.Z'],
  'date-time': ['2024-03-15 10:20:30Z', '2024-03-15t10:20:30Z', '2024-03-15T10:20:30', '2024-02-31T00:00:00Z'],
  duration: ['P', 'PT', 'P1YT', 'P1H', 'PT1D', 'P1W2D', 'P1.5Y', '1Y', 'P1M1Y'],
  email: ['a@b', '@b.co', 'a@.co', 'a..b@c.co', 'a@-b.co', 'a b@c.co', 'a@b.c'],
  hostname: ['', '-a.com', 'a-.com', 'a..b', 'a_b.com', `${'a'.repeat(41)}.com`],
  ipv4: ['256.0.0.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1.2.3.04'],
  ipv6: [':', ':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', '12345::', 'g::1', '1:2:3:4:5:6:7'],
  uuid: ['123E4567-E89B-12D3-A456-426614174000', '123e4567e89b12d3a456426614174000', '123e4567-e89b-02d3-a456-426614174000', '123e4567-e89b-12d3-c456-426614174000'],
};

describe('formatGrammar', () => {
  it('covers the formats it claims', () => {
    expect([...SUPPORTED_FORMATS].sort()).toEqual(Object.keys(CHECKS).sort());
  });

  describe.each(SUPPORTED_FORMATS)('%s', (format) => {
    const { grammar, re, sample } = compile(format);
    const validate = ajv.compile({ type: 'string', format });

    it('samples only strings that ajv-formats and a strict check accept', () => {
      const rand = rng(0x5eed + format.length);
      const seen = new Set<string>();
      for (let i = 0; i < 400; i++) {
        const text = sample(rand);
        expect(re.test(text)).toBe(true);
        const value = JSON.parse(`"${text}"`) as string;
        if (!validate(value) || !CHECKS[format](value)) throw new Error(`${JSON.stringify(value)} is not a valid ${format}\n${grammar}`);
        seen.add(value);
      }
      // The sampler is not stuck on a handful of strings.
      expect(seen.size).toBeGreaterThan(100);
    });

    it('allows typical values', () => {
      for (const value of VALID[format]) {
        expect([value, validate(value), re.test(value)]).toEqual([value, true, true]);
      }
    });

    it('refuses invalid values (and the subset it leaves out)', () => {
      for (const value of INVALID[format]) expect([value, re.test(value)]).toEqual([value, false]);
    });
  });

  it('writes each date-time part once, as shared rules', () => {
    const rules = new RuleSet();
    formatGrammar(rules, 'date', '/a');
    const name = formatGrammar(rules, 'date-time', '/b');
    expect(rules.grammar(name).match(/^date ::=/gm)).toHaveLength(1);
  });

  it.each(['uri', 'regex', 'iso-time', 'constructor', '__proto__', 'toString', ''])('refuses the format %j', (format) => {
    const attempt = (): string => formatGrammar(new RuleSet(), format, '/properties/x/format');
    expect(attempt).toThrow(UnsupportedSchema);
    try {
      attempt();
    } catch (err) {
      expect(err).toMatchObject({ keyword: 'format', path: '/properties/x/format' });
    }
  });
});
