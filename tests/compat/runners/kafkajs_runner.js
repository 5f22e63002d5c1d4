// The differential suite's runner for kafkajs (tests/compat/driver.py), the version
// tests/integration/js/package-lock.json pins. Same scenario names and meaning as
// py_runner.py; one JSON line per scenario of what the client observed, normalized.
//
//   node kafkajs_runner.js --bootstrap H:P --prefix P [--scenarios a,b,...]
'use strict';
const path = require('path');
const { Kafka, logLevel, ConfigResourceTypes } = require(path.join(__dirname, '..', '..', 'integration', 'js',
                                                                   'node_modules', 'kafkajs'));

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const NAMES = ['produce_consume', 'metadata', 'topic_configs', 'topic_config_names', 'invalid_configs',
  'create_topic_errors', 'list_offsets_by_time', 'delete_records', 'too_large', 'group_basic',
  'static_leader_restart'];
const LEGACY = { 'message.format.version': '2.8-IV1', 'message.downconversion.enable': 'false',
  'message.timestamp.difference.max.ms': '60000' };
const NEW = { 'compression.gzip.level': '5', 'compression.zstd.level': '-5', 'local.retention.ms': '-1',
  'remote.log.copy.disable': 'true', 'follower.replication.throttled.replicas': '0:1',
  'segment.index.bytes': '4096', 'min.cleanable.dirty.ratio': '0.25' };
const BAD = [['flush.messages', '0'], ['preallocate', 'yes'], ['compression.gzip.level', '0'],
  ['compression.zstd.level', '23'], ['min.cleanable.dirty.ratio', '1.5'], ['retention.ms', '-2'],
  ['segment.ms', '0'], ['message.timestamp.type', 'Foo'], ['cleanup.policy', 'bogus'],
  ['compression.type', 'bogus'], ['remote.storage.enable', 'true'], ['no.such.config', '1'],
  ['retention.ms', 'abc'], ['segment.bytes', '1000'], ['min.insync.replicas', '2'],
  ['cleanup.policy', 'compact'], ['compression.type', 'gzip']];
const DESCRIBED = ['cleanup.policy', 'compression.type', 'delete.retention.ms', 'file.delete.delay.ms',
  'flush.messages', 'flush.ms', 'index.interval.bytes', 'max.compaction.lag.ms', 'max.message.bytes',
  'message.timestamp.after.max.ms', 'message.timestamp.before.max.ms', 'message.timestamp.type',
  'min.cleanable.dirty.ratio', 'min.compaction.lag.ms', 'min.insync.replicas', 'preallocate', 'retention.bytes',
  'retention.ms', 'segment.bytes', 'segment.index.bytes', 'segment.jitter.ms', 'segment.ms',
  'unclean.leader.election.enable', 'compression.gzip.level', 'compression.lz4.level', 'compression.zstd.level',
  'local.retention.bytes', 'local.retention.ms', 'remote.storage.enable'];

class Unsupported extends Error {}

const kafka = new Kafka({ clientId: 'samsa-compat', brokers: [args.bootstrap], logLevel: logLevel.NOTHING,
  retry: { retries: 3, initialRetryTime: 100 } });
const name = (s) => `${args.prefix}-${s}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function errName(e) {
  if (!e) return null;
  if (e.errors && e.errors.length) return errName(e.errors[0]);
  if (e.type) return e.type;
  if (e.cause) return errName(e.cause);
  return e.name || String(e);
}

async function create(admin, topic, parts = 1, rf = 1, config = {}, validateOnly = false) {
  try {
    await admin.createTopics({ validateOnly, waitForLeaders: !validateOnly, topics: [{ topic, numPartitions: parts,
      replicationFactor: rf, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) }] });
    return null;
  } catch (e) {
    return errName(e);
  }
}

async function produce(producer, topic, msgs) {
  const out = [];
  for (const m of msgs) {
    try {
      const r = await producer.send({ topic, acks: -1, messages: [m] });
      out.push([null, Number(r[0].baseOffset)]);
    } catch (e) {
      out.push([errName(e), null]);
    }
  }
  return out;
}

async function withAdmin(fn) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

async function withProducer(fn) {
  const p = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 3, initialRetryTime: 100 } });
  await p.connect();
  try {
    return await fn(p);
  } finally {
    await p.disconnect();
  }
}

const scenarios = {
  async produce_consume() {
    return withAdmin(async (admin) => {
      const t = name('pc');
      const o = { create: await create(admin, t, 3) };
      await withProducer(async (p) => {
        const ms = [];
        for (let i = 0; i < 5; i++)
          ms.push({ partition: 0, key: `k${i}`, value: `v${i}`, headers: { h: `x${i}` } });
        o.produce = await produce(p, t, ms);
        o.produce_null_value = await produce(p, t, [{ partition: 1, key: 'knull', value: null }]);
      });
      const offs = await admin.fetchTopicOffsets(t);
      o.offsets = offs.map((x) => [x.partition, x.low, x.high]).sort();
      return o;
    });
  },

  async metadata() {
    return withAdmin(async (admin) => {
      const t = name('md');
      const o = { create: await create(admin, t, 3) };
      const c = await admin.describeCluster();
      const ids = c.brokers.map((b) => b.nodeId);
      o.brokers = ids.length;
      o.controller_is_a_broker = ids.includes(c.controller);
      o.cluster_id_set = !!c.clusterId;
      const md = await admin.fetchTopicMetadata({ topics: [t] });
      o.partitions = md.topics[0].partitions.map((p) => [p.partitionId, ids.includes(p.leader),
        p.replicas.length, p.isr.length, p.partitionErrorCode]).sort();
      try {
        await admin.fetchTopicMetadata({ topics: [name('md-unknown')] });
        o.unknown_topic = null;
      } catch (e) {
        o.unknown_topic = errName(e);
      }
      o.internal_topics_listed = (await admin.listTopics()).filter((x) => x.startsWith('__')).sort();
      return o;
    });
  },

  async topic_configs() {
    return withAdmin(async (admin) => {
      const t = name('tcfg');
      const o = { create: await create(admin, t, 1, 1, { 'retention.ms': '3600000' }) };
      const r = await admin.describeConfigs({ includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: t }] });
      const entries = {};
      for (const e of r.resources[0].configEntries)
        entries[e.configName] = [e.configValue, e.configSource === undefined ? null : e.configSource, e.readOnly,
          e.isSensitive];
      o.described = {};
      o.missing = [];
      for (const k of DESCRIBED) {
        if (k in entries) o.described[k] = entries[k];
        else o.missing.push(k);
      }
      return o;
    });
  },

  async topic_config_names() {
    return withAdmin(async (admin) => {
      const o = {};
      const all = Object.assign({}, LEGACY, NEW);
      for (const k of Object.keys(all).sort())
        o[k] = await create(admin, name('tcn'), 1, 1, { [k]: all[k] }, true);
      return o;
    });
  },

  async invalid_configs() {
    return withAdmin(async (admin) => {
      const o = {};
      for (const [k, v] of BAD)
        o[`${k}=${v}`] = await create(admin, name('ic'), 1, 1, { [k]: v }, true);
      return o;
    });
  },

  async create_topic_errors() {
    return withAdmin(async (admin) => {
      const t = name('cte');
      return { create: await create(admin, t, 2), again: await create(admin, t, 2),
        rf3: await create(admin, name('cte-rf3'), 1, 3), partitions0: await create(admin, name('cte-p0'), 0),
        bad_name: await create(admin, 'bad/name', 1),
        rf3_validate_only: await create(admin, name('cte-rf3v'), 1, 3, {}, true) };
    });
  },

  async list_offsets_by_time() {
    return withAdmin(async (admin) => {
      const t = name('lot');
      const o = { create: await create(admin, t, 1) };
      const base = Date.now() - 60000;
      await withProducer(async (p) => {
        o.produce = await produce(p, t, [0, 1, 2].map((i) => ({ partition: 0, key: 'k', value: `v${i}`,
          timestamp: String(base + 1000 * i) })));
      });
      o.by_timestamp = {};
      for (const [label, ts] of [['before', base - 1], ['at0', base], ['mid01', base + 500], ['at2', base + 2000],
        ['after', base + 5000]]) {
        const r = await admin.fetchTopicOffsetsByTimestamp(t, ts);
        o.by_timestamp[label] = r.map((x) => [x.partition, x.offset]);
      }
      return o;
    });
  },

  async delete_records() {
    return withAdmin(async (admin) => {
      const t = name('dr');
      const o = { create: await create(admin, t, 1) };
      await withProducer(async (p) => {
        o.produce = await produce(p, t, [...Array(10).keys()].map((i) => ({ partition: 0, value: `v${i}` })));
      });
      try {
        await admin.deleteTopicRecords({ topic: t, partitions: [{ partition: 0, offset: '4' }] });
        o.delete = null;
      } catch (e) {
        o.delete = errName(e);
      }
      o.offsets = (await admin.fetchTopicOffsets(t)).map((x) => [x.partition, x.low, x.high]);
      try {
        await admin.deleteTopicRecords({ topic: t, partitions: [{ partition: 0, offset: '50' }] });
        o.beyond_end = null;
      } catch (e) {
        o.beyond_end = errName(e);
      }
      return o;
    });
  },

  async too_large() {
    return withAdmin(async (admin) => {
      const t = name('tl');
      const o = { create: await create(admin, t, 1, 1, { 'max.message.bytes': '2000' }) };
      await withProducer(async (p) => {
        o.small = await produce(p, t, [{ partition: 0, value: 'x'.repeat(100) }]);
        o.large = await produce(p, t, [{ partition: 0, value: 'x'.repeat(6000) }]);
        o.after = await produce(p, t, [{ partition: 0, value: 'y'.repeat(100) }]);
      });
      return o;
    });
  },

  async group_basic() {
    return withAdmin(async (admin) => {
      const t = name('gb');
      const g = name('gb-group');
      const o = { create: await create(admin, t, 4) };
      const owned = [[], []];
      const cs = [];
      for (let i = 0; i < 2; i++) {
        const c = kafka.consumer({ groupId: g, sessionTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 100,
          rebalanceTimeout: 20000 });
        c.on(c.events.GROUP_JOIN, (e) => {
          owned[i] = (e.payload.memberAssignment[t] || []).slice().sort();
        });
        await c.connect();
        await c.subscribe({ topics: [t], fromBeginning: true });
        await c.run({ autoCommit: false, eachMessage: async () => {} });
        cs.push(c);
      }
      const deadline = Date.now() + 60000;
      const settled = () => owned[0].length && owned[1].length &&
        new Set([...owned[0], ...owned[1]]).size === 4 && owned[0].length + owned[1].length === 4;
      while (!settled() && Date.now() < deadline) await sleep(50);
      // kafkajs's default assigner (round robin over member ids, which are random): the split
      // itself differs run to run, so what is compared is its shape
      o.assignment_sizes = owned.map((a) => a.length).sort();
      o.covered = [...new Set([...owned[0], ...owned[1]])].sort();
      const d = await admin.describeGroups([g]);
      o.state = d.groups[0].state;
      o.protocol = d.groups[0].protocol;
      o.members = d.groups[0].members.length;
      for (const c of cs) await c.disconnect();
      return o;
    });
  },

  async static_leader_restart() {
    throw new Unsupported('kafkajs has no group.instance.id (static membership)');
  },
};

(async () => {
  for (const s of (args.scenarios || NAMES.join(',')).split(',')) {
    const t0 = Date.now();
    const out = { scenario: s };
    try {
      if (!scenarios[s]) throw new Unsupported('not written for kafkajs');
      out.obs = await scenarios[s]();
    } catch (e) {
      if (e instanceof Unsupported) out.unsupported = e.message;
      else {
        process.stderr.write(`${s}: ${e.stack}\n`);
        out.error = `${errName(e)}: ${e.message}`;
      }
    }
    out.seconds = (Date.now() - t0) / 1000;
    process.stdout.write(JSON.stringify(out).replace(new RegExp(args.prefix, 'g'), '<p>') + '\n');
  }
  process.exit(0);
})();
