// Asks a MongoDB-wire server which features the adapters rely on actually work, one line per feature
// (the table in README.md was made with it):
//
//   node scripts/mongo-java-server/capabilities-probe.mjs [mongodb://127.0.0.1:27017]
//
// Each check does the real operation and compares the outcome; "no" lines carry the server's error.
// The probe's database is dropped at the end. Exit code 0 unless the server cannot be reached.
import { MongoClient } from 'mongodb';

const uri = process.argv[2] ?? process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017';

function describe(err) {
  const code = err?.code !== undefined ? ` code=${err.code}` : '';
  const name = err?.codeName ? ` ${err.codeName}` : '';
  return `${err?.constructor?.name ?? 'Error'}${code}${name}: ${String(err?.message ?? err).split('\n')[0].slice(0, 160)}`;
}

async function main() {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const db = client.db(`capabilities_probe_${process.pid}`);
  const results = [];
  const check = async (feature, fn) => {
    try {
      const detail = await fn();
      results.push({ feature, ok: true, detail });
    } catch (err) {
      results.push({ feature, ok: false, detail: describe(err) });
    }
  };
  const expect = (cond, what) => { if (!cond) throw new Error(`unexpected result: ${what}`); };

  try {
    const info = await client.db('admin').command({ buildInfo: 1 });
    const hello = await client.db('admin').command({ isMaster: 1 });
    console.log(`server: version ${info.version}, maxWireVersion ${hello.maxWireVersion}, setName ${hello.setName ?? '(standalone)'}`);

    await check('ping', async () => {
      const r = await client.db('admin').command({ ping: 1 });
      expect(r.ok === 1, JSON.stringify(r));
      return 'ok: 1';
    });

    const items = db.collection('items');
    await check('insertMany', async () => {
      const r = await items.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i, group: i % 3, status: 'pending', n: i })));
      expect(r.insertedCount === 10, `insertedCount ${r.insertedCount}`);
      return 'insertedCount 10';
    });

    await check('findOneAndUpdate with sort', async () => {
      const doc = await items.findOneAndUpdate({ status: 'pending' }, { $set: { status: 'claimed' } }, { sort: { n: -1 }, returnDocument: 'after' });
      expect(doc?._id === 9 && doc.status === 'claimed', JSON.stringify(doc));
      return 'returned the highest n, updated';
    });

    await check('findOneAndUpdate upsert + includeResultMetadata', async () => {
      const r = await items.findOneAndUpdate({ _id: 100 }, { $setOnInsert: { status: 'new' } }, { upsert: true, returnDocument: 'after', includeResultMetadata: true });
      expect(r.value?._id === 100, JSON.stringify(r));
      expect(r.lastErrorObject?.upserted === 100, `no lastErrorObject.upserted in ${JSON.stringify(r)}`);
      return 'lastErrorObject.upserted set';
    });

    await check('updateMany', async () => {
      const r = await items.updateMany({ group: 0 }, { $inc: { n: 100 } });
      expect(r.matchedCount === 4 && r.modifiedCount === 4, JSON.stringify(r));
      return 'matched 4, modified 4';
    });

    await check('bulkWrite ordered:false', async () => {
      const r = await items.bulkWrite([
        { updateOne: { filter: { _id: 1 }, update: { $set: { bulk: true } } } },
        { insertOne: { document: { _id: 200 } } },
        { deleteOne: { filter: { _id: 2 } } },
      ], { ordered: false });
      expect(r.modifiedCount === 1 && r.insertedCount === 1 && r.deletedCount === 1, JSON.stringify(r));
      return 'modified 1, inserted 1, deleted 1';
    });

    const uniq = db.collection('uniq');
    await check('unique index, duplicate key -> code 11000', async () => {
      await uniq.createIndex({ key: 1 }, { unique: true, name: 'key_unique' });
      await uniq.insertOne({ key: 'a' });
      try {
        await uniq.insertOne({ key: 'a' });
      } catch (err) {
        expect(err.code === 11000, describe(err));
        return `code ${err.code}${err.keyValue ? `, keyValue ${JSON.stringify(err.keyValue)}` : ', no keyValue'}`;
      }
      throw new Error('second insert with the same key succeeded');
    });

    await check('unique index in insertMany ordered:false -> writeErrors 11000', async () => {
      try {
        await uniq.insertMany([{ key: 'b' }, { key: 'a' }, { key: 'c' }], { ordered: false });
      } catch (err) {
        const codes = (err.writeErrors ?? []).map((e) => e.code);
        expect(codes.length === 1 && codes[0] === 11000, describe(err));
        const stored = await uniq.countDocuments({ key: { $in: ['b', 'c'] } });
        expect(stored === 2, `${stored} of the 2 non-duplicates stored`);
        const reported = err.result?.insertedCount;
        expect(reported === 2, `writeErrors [11000] and both others stored, but insertedCount reported ${reported}`);
        return 'one writeError 11000, other 2 inserted and counted';
      }
      throw new Error('duplicate accepted');
    });

    await check('partial unique index (partialFilterExpression)', async () => {
      const p = db.collection('partial');
      await p.createIndex({ k: 1 }, { unique: true, partialFilterExpression: { live: true } });
      await p.insertMany([{ k: 1, live: false }, { k: 1, live: false }, { k: 1, live: true }]);
      try { await p.insertOne({ k: 1, live: true }); } catch (err) { expect(err.code === 11000, describe(err)); return 'enforced only where live: true'; }
      throw new Error('duplicate among live: true accepted');
    });

    await check('TTL index creation (expireAfterSeconds)', async () => {
      const name = await db.collection('ttl').createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
      const idx = (await db.collection('ttl').listIndexes().toArray()).find((i) => i.name === name);
      expect(idx !== undefined, 'index not listed');
      return `accepted; listIndexes expireAfterSeconds=${idx.expireAfterSeconds}`;
    });

    await check('TTL expiry actually deletes (waits 70 s)', async () => {
      if (!process.env.PROBE_TTL_WAIT) return 'skipped (set PROBE_TTL_WAIT=1 to wait for the TTL monitor)';
      await db.collection('ttl').insertOne({ expiresAt: new Date(Date.now() - 1000) });
      await new Promise((r) => setTimeout(r, 70_000));
      const left = await db.collection('ttl').countDocuments();
      expect(left === 0, `${left} expired document(s) still there after 70 s`);
      return 'expired document removed';
    });

    await check('transactions (startSession + withTransaction)', async () => {
      const session = client.startSession();
      try {
        await session.withTransaction(async () => {
          await items.insertOne({ _id: 300 }, { session });
        });
      } finally {
        await session.endSession();
      }
      return 'committed';
    });

    await check('aggregate $match/$group/$sort', async () => {
      const r = await items.aggregate([
        { $match: { _id: { $lt: 10 } } },
        { $group: { _id: '$group', count: { $sum: 1 }, maxN: { $max: '$n' } } },
        { $sort: { _id: 1 } },
      ]).toArray();
      expect(r.length === 3 && r.every((g) => typeof g.count === 'number'), JSON.stringify(r));
      return JSON.stringify(r.map((g) => [g._id, g.count]));
    });

    await check('countDocuments / estimatedDocumentCount', async () => {
      const c = await items.countDocuments({ group: 1 });
      const e = await items.estimatedDocumentCount();
      return `countDocuments ${c}, estimated ${e}`;
    });

    await check('explain (find)', async () => {
      const r = await items.find({ status: 'pending' }).explain();
      return `keys: ${Object.keys(r).slice(0, 6).join(',')}`;
    });

    await check('hint on find (an unknown index name is refused)', async () => {
      await items.createIndex({ status: 1, n: 1 }, { name: 'status_n' });
      const r = await items.find({ status: 'pending' }).hint('status_n').toArray();
      try {
        await items.find({ status: 'pending' }).hint('no_such_index').toArray();
      } catch (err) {
        return `${r.length} docs; unknown hint: ${describe(err)}`;
      }
      throw new Error(`hint accepted but not checked: an unknown index name returned documents too (${r.length} with the real one)`);
    });

    await check('$expr in find', async () => {
      const r = await items.find({ $expr: { $gt: ['$n', 5] } }).toArray();
      return `${r.length} docs`;
    });

    await check('change streams (watch)', async () => {
      const stream = items.watch();
      const next = stream.tryNext();
      await Promise.race([next, new Promise((_, rej) => setTimeout(() => rej(new Error('no answer in 3 s')), 3000))]);
      await stream.close();
      return 'opened';
    });

    await check('listCollections / drop', async () => {
      const names = (await db.listCollections().toArray()).map((c) => c.name).sort();
      await db.collection('partial').drop();
      return names.join(',');
    });
  } finally {
    await db.dropDatabase().catch(() => {});
    await client.close();
  }
  for (const r of results) {
    const mark = !r.ok ? 'no ' : String(r.detail).startsWith('skipped') ? '-  ' : 'yes';
    console.log(`${mark}  ${r.feature.padEnd(58)} ${r.detail}`);
  }
}

main().catch((err) => {
  console.error(`capabilities-probe: ${describe(err)}`);
  process.exit(2);
});
