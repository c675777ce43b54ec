import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineFramer } from '../../src/carrier/lines.js';

// Newline framing as every stdio wire reads it: whole lines decoded straight from the chunk they came
// in (the per-message fast path), lines split over chunks joined, CRLF and blank lines handled, and a
// line over the bound handed on as its head and size, never whole.

const framer = (max = 1 << 20) => {
  const lines: [string, number][] = [];
  const oversize: [string, number][] = [];
  const f = new LineFramer(
    max,
    (text, bytes) => lines.push([text, bytes]),
    (head, bytes) => oversize.push([head, bytes]),
  );
  return { f, lines, oversize };
};

describe('carrier LineFramer', () => {
  it('hands on every whole line of one chunk with its byte size', () => {
    const { f, lines } = framer();
    f.push(Buffer.from('{"a":1}\n[1,2]\n{"é":"ü"}\n'));
    assert.deepEqual(lines, [
      ['{"a":1}', 7],
      ['[1,2]', 5],
      ['{"é":"ü"}', 11],
    ]);
  });

  it('joins a line split over chunks, also inside a multi-byte character', () => {
    const { f, lines } = framer();
    const bytes = Buffer.from('{"k":"€uro"}\n{"next":true}\n');
    f.push(bytes.subarray(0, 8)); // ends inside the three bytes of €
    assert.deepEqual(lines, []);
    f.push(bytes.subarray(8, 20));
    f.push(bytes.subarray(20));
    assert.deepEqual(lines, [
      ['{"k":"€uro"}', 14],
      ['{"next":true}', 13],
    ]);
  });

  it('drops the CR of CRLF framing (counted in the size) and skips blank lines', () => {
    const { f, lines } = framer();
    f.push(Buffer.from('{"a":1}\r\n\n  \r\n \t{"b":2}\n'));
    f.push(Buffer.from('{"c":'));
    f.push(Buffer.from('3}\r\n'));
    assert.deepEqual(lines, [
      ['{"a":1}', 8],
      [' \t{"b":2}', 9],
      ['{"c":3}', 8],
    ]);
  });

  it('hands on a line that is not JSON as it is (the relay answers it)', () => {
    const { f, lines } = framer();
    f.push(Buffer.from('hello\n'));
    assert.deepEqual(lines, [['hello', 5]]);
  });

  it('a line over the bound: its first 256 bytes and full size once it ends, in one chunk or many', () => {
    const { f, lines, oversize } = framer(300);
    const long = `{"id":7,"pad":"${'x'.repeat(400)}"}`;
    f.push(Buffer.from(`${long}\n{"ok":1}\n`));
    f.push(Buffer.from(long.slice(0, 100)));
    f.push(Buffer.from(`${long.slice(100)}\n`));
    assert.deepEqual(oversize, [
      [long.slice(0, 256), long.length],
      [long.slice(0, 256), long.length],
    ]);
    assert.deepEqual(lines, [['{"ok":1}', 8]]);
  });

  it('a chunk that is one whole line is decoded once: its size, CR, the bound and a blank chunk as anywhere', () => {
    const { f, lines, oversize } = framer(12);
    f.push(Buffer.from('{"é":"ü"}\n'));
    f.push(Buffer.from('{"a":1}\r\n'));
    f.push(Buffer.from('\n'));
    f.push(Buffer.from('{"a":"123"}\n')); // 11 bytes: under the bound
    f.push(Buffer.from('{"a":"12345"}\n')); // 13 bytes: over it
    f.push(Buffer.from('{"x":1}\n{"y":2}\n')); // two lines: each on its own
    assert.deepEqual(lines, [
      ['{"é":"ü"}', 11],
      ['{"a":1}', 8],
      ['{"a":"123"}', 11],
      ['{"x":1}', 7],
      ['{"y":2}', 7],
    ]);
    assert.deepEqual(oversize, [['{"a":"12345"}', 13]]);
  });

  it('a line exactly at the bound is a line', () => {
    const { f, lines, oversize } = framer(10);
    f.push(Buffer.from('{"a":"12"}\n'));
    assert.deepEqual(lines, [['{"a":"12"}', 10]]);
    assert.deepEqual(oversize, []);
  });

  it('end() flushes a final unterminated line', () => {
    const { f, lines } = framer();
    f.push(Buffer.from('{"a":1}\n{"b"'));
    f.push(Buffer.from(':2}'));
    f.end();
    assert.deepEqual(lines, [
      ['{"a":1}', 7],
      ['{"b":2}', 7],
    ]);
  });
});
