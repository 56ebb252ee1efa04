import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIsoDate } from '../../src/schema/iso-date.ts';

test('ISO 8601 dates and zoned date-times read as the instants they name', () => {
  const cases: [string, string][] = [
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2024-02-29T12:34Z', '2024-02-29T12:34:00.000Z'],
    ['2024-02-29T12:34:56Z', '2024-02-29T12:34:56.000Z'],
    ['2024-02-29T12:34:56.7Z', '2024-02-29T12:34:56.700Z'],
    ['2024-02-29T12:34:56.789000Z', '2024-02-29T12:34:56.789Z'],
    ['2024-03-01T01:00:00+02:00', '2024-02-29T23:00:00.000Z'],
    ['2024-02-29T23:30:00-01:45', '2024-03-01T01:15:00.000Z'],
    ['0001-01-01', '0001-01-01T00:00:00.000Z'],
    ['0050-06-15T00:00:00Z', '0050-06-15T00:00:00.000Z'],
    ['2000-02-29', '2000-02-29T00:00:00.000Z'],
  ];
  for (const [text, iso] of cases) assert.equal(parseIsoDate(text), Date.parse(iso), text);
  assert.equal(new Date(parseIsoDate('0050-06-15') as number).getUTCFullYear(), 50, 'not 1950');
});

test('anything else is refused with the reason', () => {
  const cases: [string, RegExp][] = [
    ['2020-01-01 junk', /not an ISO 8601/],
    ['2020-01-01 00:00:00Z', /not an ISO 8601/],
    ['yesterday', /not an ISO 8601/],
    ['+002024-01-01T00:00:00Z', /not an ISO 8601/],
    ['2024-02-30', /day 30/],
    ['2023-02-29', /day 29/],
    ['1900-02-29', /day 29/],
    ['2024-04-31', /day 31/],
    ['2024-13-01', /month 13/],
    ['2024-00-01', /month 00/],
    ['2024-02-29T24:00:00Z', /time 24:00:00/],
    ['2024-02-29T12:60Z', /time 12:60/],
    ['2024-02-29T12:00:00', /without a zone/],
    ['2024-02-29T12:00:00.0001Z', /millisecond/],
    ['2024-02-29T12:00:00+24:00', /offset/],
  ];
  for (const [text, reason] of cases) {
    const result = parseIsoDate(text);
    assert.equal(typeof result, 'string', text);
    assert.match(result as string, reason, text);
  }
});
