// Does a MongoDB-wire server stop an index scan at the query's limit? On a server that does, a
// `limit(100)` read costs the same whatever the number of keys inside the bounds; on one that
// materializes every match first, it grows with them, whatever `explain` reports as keys examined.
// The claim query's bounds hold the whole due backlog, so this decides whether claim time can be flat.
//   node scripts/secantus/limit-probe.mjs [uri=mongodb://127.0.0.1:27018] [documents=100000]
// Seeds its own database (dropped at the end); prints medians of 5 runs. Not a test: a measurement.
import { MongoClient } from 'mongodb';

const uri = process.argv[2] ?? 'mongodb://127.0.0.1:27018';
const documents = Number(process.argv[3] ?? 100_000);
const client = await new MongoClient(uri).connect();
const db = client.db(`limit_probe_${process.pid}`);
try {
  const triggers = db.collection('triggers');
  await triggers.createIndexes([{ key: { status: 1, evaluateAt: 1 }, name: 'triggers_due' }]);
  const now = new Date();
  const base = now.getTime() - 60_000;
  for (let offset = 0; offset < documents; offset += 5_000) {
    const batch = [];
    for (let i = offset; i < Math.min(documents, offset + 5_000); i++) {
      // 1,000 distinct due times, as in bench/src/mongo-store.bench.ts.
      batch.push({ status: 'pending', attempt: 0, evaluateAt: new Date(base + (i % 1_000)), payload: { job: { id: `job_${i}`, status: 'Done' } } });
    }
    await triggers.insertMany(batch, { ordered: false });
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const measure = async (label, read) => {
    const times = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await read();
      times.push(performance.now() - started);
    }
    return { label, ms: median(times) };
  };
  const due = (until) => triggers.find({ status: 'pending', evaluateAt: { $lte: until } }, { projection: { _id: 1 } }).sort({ evaluateAt: 1 }).limit(100);
  const rows = [
    await measure('limit(100), 1% of keys in bounds', () => due(new Date(base + 10)).toArray()),
    await measure('limit(100), 10% of keys in bounds', () => due(new Date(base + 100)).toArray()),
    await measure('limit(100), 100% of keys in bounds', () => due(now).toArray()),
    await measure('find({}).limit(1), collection scan', () => triggers.find({}).limit(1).next()),
  ];
  const explain = await due(now).explain('executionStats');
  const info = await client.db('admin').command({ buildInfo: 1 });
  console.log(`# limit probe: ${documents} documents, server reports ${String(info['version'])}, ${new Date().toISOString()}`);
  for (const row of rows) console.log(`${row.label}: median ${row.ms.toFixed(1)} ms`);
  console.log(`explain of the 100% read reports totalKeysExamined ${String(explain.executionStats?.totalKeysExamined)}, totalDocsExamined ${String(explain.executionStats?.totalDocsExamined)}`);
} finally {
  await db.dropDatabase();
  await client.close();
}
