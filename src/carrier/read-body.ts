import type { IncomingMessage } from 'node:http';

/**
 * Read an HTTP body of at most `max` bytes. Beyond it: 'too-large', after reading the rest (a client's
 * request, to answer it properly) or at once, dropping the connection (`stopEarly`: an upstream's answer).
 */
export function readBody(
  req: IncomingMessage,
  max: number,
  stopEarly = false,
): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
      else if (!over) {
        over = true;
        chunks.length = 0;
        if (stopEarly) {
          req.destroy();
          resolve('too-large');
        }
      }
    });
    req.on('end', () =>
      resolve(over ? 'too-large' : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
    );
    req.on('error', (e) => (over ? resolve('too-large') : reject(e)));
  });
}
