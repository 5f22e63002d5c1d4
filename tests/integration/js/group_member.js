'use strict'
/*
 * One kafkajs consumer group member in its own process, for the group tests:
 * the kafkajs twin of ../group_member.py, writing the same JSON lines.
 *
 *   node group_member.js BOOTSTRAP GROUP TOPIC PARTITIONS OUTFILE [ASSIGNOR] [CLIENT_ID]
 *
 * ASSIGNOR must be roundrobin. kafkajs ships one assignor, RoundRobinAssigner,
 * under a protocol name of its own; in the classic consumer protocol, members
 * of different clients share a group only under one protocol name, so it is
 * offered here as "roundrobin", the name librdkafka, kafka-python and Java give
 * their round-robin assignor. When kafkajs leads, the assignment is computed
 * by kafkajs's own code.
 *
 * The member consumes TOPIC, commits what it consumed every 10 messages and
 * when idle, and records in OUTFILE (one fs.writeSync per line, O_APPEND):
 *   {"ev":"start"}, {"ev":"assign","parts":[...]}, {"ev":"msg","p","o","v"},
 *   {"ev":"commit","offsets":{...}} after the commit is acknowledged,
 *   {"ev":"commit_error"}, {"ev":"committed","offsets":{...}}, {"ev":"stopped"}.
 * "t" is process.hrtime (CLOCK_MONOTONIC) in seconds.
 * Commands on stdin, one per line: "committed", "stop".
 */
const fs = require('fs')
const readline = require('readline')
const { Kafka, logLevel, PartitionAssigners } = require('kafkajs')

const [bootstrap, groupId, topic, nparts, outFile, assignorName = 'roundrobin', clientId = 'itest-member-kafkajs'] =
  process.argv.slice(2)
if (!outFile || assignorName !== 'roundrobin') {
  console.error('usage: node group_member.js BOOTSTRAP GROUP TOPIC PARTITIONS OUTFILE [roundrobin] [CLIENT_ID]')
  process.exit(2)
}
const partitions = Number(nparts)
const fd = fs.openSync(outFile, 'a')
const now = () => Number(process.hrtime.bigint()) / 1e9
function record(ev) {
  ev.t = ev.t || now()
  fs.writeSync(fd, JSON.stringify(ev) + '\n')
}

const RoundRobinAsClassic = args => {
  const a = PartitionAssigners.roundRobin(args)
  return { ...a, name: 'roundrobin' }
}

const kafka = new Kafka({ clientId, brokers: [bootstrap], logLevel: logLevel.ERROR, retry: { retries: 5 } })
const consumer = kafka.consumer({
  groupId,
  partitionAssigners: [RoundRobinAsClassic],
  sessionTimeout: 6000,
  heartbeatInterval: 500,
  rebalanceTimeout: 10000,
  maxWaitTimeInMs: 100,
})
const admin = kafka.admin()

let pending = {} // partition -> next offset, consumed and not committed
let sinceCommit = 0
let committing = Promise.resolve()

function commit() {
  committing = committing.then(async () => {
    const offs = pending
    if (!Object.keys(offs).length) return
    pending = {}
    sinceCommit = 0
    try {
      await consumer.commitOffsets(
        Object.entries(offs).map(([p, o]) => ({ topic, partition: Number(p), offset: String(o) })))
      record({ ev: 'commit', offsets: offs })
    } catch (e) {
      record({ ev: 'commit_error', error: String(e), offsets: offs })
    }
  })
  return committing
}

async function committedView() {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] })
  const out = {}
  for (const t of res) for (const p of t.partitions) out[String(p.partition)] = Number(p.offset)
  for (let p = 0; p < partitions; p++) if (!(String(p) in out)) out[String(p)] = -1
  return out
}

async function main() {
  record({ ev: 'start', pid: process.pid, client: 'kafkajs' })
  await admin.connect()
  await consumer.connect()
  consumer.on(consumer.events.GROUP_JOIN, e => {
    const parts = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b)
    record({ ev: 'assign', parts })
  })
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      const o = Number(message.offset)
      record({ ev: 'msg', p: partition, o, v: message.value === null ? null : message.value.toString() })
      pending[String(partition)] = o + 1
      if (++sinceCommit >= 10) await commit()
    },
  })
  const idle = setInterval(() => commit(), 100)

  let stopping = false
  const rl = readline.createInterface({ input: process.stdin })
  const stop = async () => {
    if (stopping) return
    stopping = true
    clearInterval(idle)
    await commit()
    await consumer.disconnect()
    await admin.disconnect()
    record({ ev: 'stopped' })
    fs.closeSync(fd)
    process.exit(0)
  }
  rl.on('line', async line => {
    const cmd = line.trim()
    if (cmd === 'committed') record({ ev: 'committed', offsets: await committedView() })
    else if (cmd === 'stop') await stop()
  })
  rl.on('close', () => stop())
}

main().catch(e => {
  record({ ev: 'error', error: String(e && e.stack ? e.stack : e) })
  process.exit(1)
})
