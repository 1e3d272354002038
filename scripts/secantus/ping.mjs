// Readiness probe for a MongoDB-wire server: one OP_MSG {ping: 1, $db: "admin"} over raw TCP, exit 0
// when the reply says ok: 1. Raw wire rather than the `mongodb` driver so it works before `npm install`
// and never starts the driver's topology discovery (the server advertises a replica set).
//   node scripts/secantus/ping.mjs [host] [port]
import net from 'node:net';

const [host = '127.0.0.1', port = '27018'] = process.argv.slice(2);
const fail = (reason) => {
  if (process.env.PROBE_DEBUG) console.error(reason);
  process.exit(1);
};
setTimeout(() => fail('timeout'), 4_000).unref();

const cstring = (s) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
const int32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};

function pingDocument() {
  const db = cstring('admin');
  const elements = Buffer.concat([Buffer.from([0x10]), cstring('ping'), int32(1), Buffer.from([0x02]), cstring('$db'), int32(db.length), db]);
  return Buffer.concat([int32(elements.length + 5), elements, Buffer.from([0])]);
}

/** The top-level `ok` of a reply document: a double, int32, int64 or boolean; undefined when absent. */
function okOf(doc) {
  let off = 4;
  const end = doc.readInt32LE(0) - 1;
  while (off < end) {
    const type = doc[off++];
    const z = doc.indexOf(0, off);
    const name = doc.toString('utf8', off, z);
    off = z + 1;
    let value;
    let length;
    switch (type) {
      case 0x01: value = doc.readDoubleLE(off); length = 8; break;
      case 0x02: case 0x0d: case 0x0e: length = 4 + doc.readInt32LE(off); break;
      case 0x03: case 0x04: case 0x0f: length = doc.readInt32LE(off); break;
      case 0x05: length = 5 + doc.readInt32LE(off); break;
      case 0x07: length = 12; break;
      case 0x08: value = doc[off] === 1; length = 1; break;
      case 0x09: case 0x11: length = 8; break;
      case 0x12: value = Number(doc.readBigInt64LE(off)); length = 8; break;
      case 0x0a: case 0x06: case 0xff: case 0x7f: length = 0; break;
      case 0x10: value = doc.readInt32LE(off); length = 4; break;
      case 0x13: length = 16; break;
      default: return undefined;
    }
    if (name === 'ok') return value;
    off += length;
  }
  return undefined;
}

const body = pingDocument();
const header = Buffer.alloc(21);
header.writeInt32LE(21 + body.length, 0);
header.writeInt32LE(1, 4); // requestID
header.writeInt32LE(0, 8); // responseTo
header.writeInt32LE(2013, 12); // OP_MSG
header.writeUInt32LE(0, 16); // flagBits
header[20] = 0; // section kind 0: body

const socket = net.connect({ host, port: Number(port) }, () => socket.write(Buffer.concat([header, body])));
let received = Buffer.alloc(0);
socket.on('data', (chunk) => {
  received = Buffer.concat([received, chunk]);
  if (received.length < 4 || received.length < received.readInt32LE(0)) return;
  if (received.readInt32LE(12) !== 2013 || received[20] !== 0) fail('not an OP_MSG body reply');
  const ok = okOf(received.subarray(21));
  socket.destroy();
  if (ok === 1 || ok === true) process.exit(0);
  fail(`ping not ok: ${String(ok)}`);
});
socket.on('error', (error) => fail(error.message));
// A peer that hangs up without replying (another protocol on that port) is not ready.
socket.on('close', () => fail('connection closed before a reply'));
