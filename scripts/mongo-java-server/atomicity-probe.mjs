// Measures whether concurrent findOneAndUpdate claims are atomic per document on a MongoDB-wire server:
// N claimers, each with its own MongoClient (own connection pool, as separate engine processes would
// have), move documents from status 'pending' to 'claimed' until none is left. A document claimed by
// two claimers (or twice by one) means the server's findOneAndUpdate is not a compare-and-set.
//
//   node scripts/mongo-java-server/atomicity-probe.mjs [--uri mongodb://127.0.0.1:27017] [--docs 1000] [--claimers 16]
//
// Prints one JSON line; exits 1 when any document was claimed more than once or some were never
// claimed, 2 on a usage or connection error. The probe's database is dropped at the end.
import { MongoClient } from 'mongodb';

function parseArgs(argv) {
  const opts = { uri: process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017', docs: 1000, claimers: 16 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--uri') opts.uri = value;
    else if (flag === '--docs') opts.docs = positiveInt(flag, value);
    else if (flag === '--claimers') opts.claimers = positiveInt(flag, value);
    else throw new Error(`unknown argument ${flag}`);
  }
  return opts;
}

function positiveInt(flag, value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${value}`);
  return n;
}

async function claimUntilEmpty(uri, dbName, claimer) {
  const client = new MongoClient(uri, { maxPoolSize: 1, serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const jobs = client.db(dbName).collection('jobs');
  const claimedIds = [];
  try {
    for (;;) {
      const doc = await jobs.findOneAndUpdate(
        { status: 'pending' },
        { $set: { status: 'claimed', owner: claimer }, $inc: { claims: 1 } },
        { sort: { seq: 1 }, returnDocument: 'after' },
      );
      if (doc === null) return claimedIds;
      claimedIds.push(doc._id);
    }
  } finally {
    await client.close();
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`atomicity-probe: ${err.message}`);
    process.exit(2);
  }
  const dbName = `atomicity_probe_${process.pid}_${Date.now()}`;
  const admin = new MongoClient(opts.uri, { serverSelectionTimeoutMS: 5000 });
  await admin.connect();
  const db = admin.db(dbName);
  try {
    const docs = Array.from({ length: opts.docs }, (_, seq) => ({ _id: `job-${seq}`, seq, status: 'pending', claims: 0 }));
    await db.collection('jobs').insertMany(docs);

    const started = performance.now();
    const perClaimer = await Promise.all(
      Array.from({ length: opts.claimers }, (_, claimer) => claimUntilEmpty(opts.uri, dbName, claimer)),
    );
    const elapsedMs = performance.now() - started;

    const timesClaimed = new Map();
    for (const ids of perClaimer) for (const id of ids) timesClaimed.set(id, (timesClaimed.get(id) ?? 0) + 1);
    const claimedTwiceOrMore = [...timesClaimed.values()].filter((n) => n > 1).length;
    const totalClaims = perClaimer.reduce((sum, ids) => sum + ids.length, 0);
    // The server's own view as a cross-check: $inc counts every update that matched the document.
    const incrementedTwice = await db.collection('jobs').countDocuments({ claims: { $gt: 1 } });
    const neverClaimed = await db.collection('jobs').countDocuments({ status: 'pending' });
    const buildInfo = await admin.db('admin').command({ buildInfo: 1 });

    const result = {
      server: buildInfo.version,
      documents: opts.docs,
      claimers: opts.claimers,
      totalClaims,
      documentsClaimedTwiceOrMore: claimedTwiceOrMore,
      documentsWithClaimsCounterAbove1: incrementedTwice,
      neverClaimed,
      claimsPerClaimer: perClaimer.map((ids) => ids.length),
      elapsedMs: Math.round(elapsedMs),
    };
    console.log(JSON.stringify(result));
    process.exitCode = claimedTwiceOrMore === 0 && incrementedTwice === 0 && neverClaimed === 0 ? 0 : 1;
  } finally {
    await db.dropDatabase().catch(() => {});
    await admin.close();
  }
}

main().catch((err) => {
  console.error(`atomicity-probe: ${err.stack ?? err}`);
  process.exit(2);
});
