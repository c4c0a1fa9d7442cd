import test from 'ava'
import dgram from 'node:dgram'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { serveDns, type DnsServer } from '../../examples/dns/dns-server'
import { dig } from '../dig'
import type net from 'node:net'
import { connect, readToEnd, rng } from '../helpers'

// examples/dns under hostile queries from raw sockets; dig must still get answers afterwards.
const zone = readFileSync(join(__dirname, '..', '..', 'examples', 'dns', 'example.zone'), 'utf8')
let server: DnsServer

test.before(async () => {
  server = await serveDns({ zone, port: 0 })
})
test.after.always(async () => {
  await server?.engine.stop()
})

/** A DNS header: id, flags (RD), then the four counts. */
function header(id: number, qd = 1, an = 0, ns = 0, ar = 0, flags = 0x0100): Buffer {
  const h = Buffer.alloc(12)
  h.writeUInt16BE(id, 0)
  h.writeUInt16BE(flags, 2)
  h.writeUInt16BE(qd, 4)
  h.writeUInt16BE(an, 6)
  h.writeUInt16BE(ns, 8)
  h.writeUInt16BE(ar, 10)
  return h
}

const WWW_A = Buffer.from('\x03www\x07example\x04test\x00\x00\x01\x00\x01', 'latin1')

/** Messages whose names loop through compression pointers (or point forwards, or at themselves). */
function pointerLoops(): Buffer[] {
  const b = (s: string) => Buffer.from(s, 'latin1')
  return [
    Buffer.concat([header(1), b('\xc0\x0c\x00\x01\x00\x01')]), // the question's name points at itself
    Buffer.concat([header(2), b('\x01a\xc0\x0e\xc0\x0c\x00\x01\x00\x01')]), // two pointers at each other
    Buffer.concat([header(3), b('\xc0\x12\x00\x01\x00\x01\x01a\xc0\x0c')]), // forwards, then back
    Buffer.concat([header(4, 1, 1), WWW_A, b('\xc0\x23\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x01')]), // answer owner points at itself
    Buffer.concat([header(5), b('\x3f'), Buffer.alloc(63, 0x61), b('\xc0\x0c\x00\x01\x00\x01')]), // a long label, then back to the start
  ]
}

/** Reads `n` length-prefixed DNS messages from `s`. */
function readFrames(s: net.Socket, n: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const frames: Buffer[] = []
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        frames.push(buf.subarray(2, 2 + buf.readUInt16BE(0)))
        buf = buf.subarray(2 + buf.readUInt16BE(0))
      }
      if (frames.length >= n) {
        s.off('data', onData)
        resolve(frames)
      }
    }
    s.on('data', onData)
    s.once('error', reject)
  })
}

test.serial('10,000 random, truncated and mutated queries over UDP leave the server answering', async (t) => {
  const next = rng(0xd15)
  const sock = dgram.createSocket('udp4')
  const replies: Buffer[] = []
  sock.on('message', (m) => replies.push(m))
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
  const valid = Buffer.concat([header(0x4242), WWW_A])
  for (let i = 0; i < 10_000; i++) {
    let q: Buffer
    switch (i % 3) {
      case 0: // random bytes
        q = Buffer.from(Array.from({ length: Math.floor(next() * 600) }, () => Math.floor(next() * 256)))
        break
      case 1: // a valid query cut short
        q = valid.subarray(0, Math.floor(next() * valid.length))
        break
      default: {
        // a valid query with a few bytes changed (counts, label lengths, pointers)
        q = Buffer.from(valid)
        for (let k = 0; k < 3; k++) q[Math.floor(next() * q.length)] = Math.floor(next() * 256)
      }
    }
    sock.send(q, server.port, '127.0.0.1')
    // Let the server drain now and then rather than overflow the socket buffers.
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5))
  }
  await new Promise((r) => setTimeout(r, 200))
  t.true(replies.length > 1000, `${replies.length} replies`)
  for (const r of replies) {
    t.true(r.length >= 12 && (r[2] & 0x80) !== 0, 'every reply is a DNS response')
    t.true(r.length <= 1232, 'within the largest UDP size the server sends')
  }
  sock.close()
  const after = await dig(server.port, 'www.example.test', 'A')
  t.deepEqual(after.answers, ['www.example.test. 3600 IN A 192.0.2.80'])
})

test.serial('compression-pointer loops get FORMERR over UDP', async (t) => {
  const sock = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
  for (const q of pointerLoops()) {
    const reply = new Promise<Buffer>((resolve) => sock.once('message', resolve))
    sock.send(q, server.port, '127.0.0.1')
    const r = await reply
    t.is(r.readUInt16BE(0), q.readUInt16BE(0), 'same id')
    t.is(r[3] & 0x0f, 1, 'FORMERR')
  }
  sock.close()
  t.is((await dig(server.port, 'example.test', 'MX')).answers.length, 2)
})

test.serial('over TCP: pointer loops get FORMERR, pipelined queries answers in order, bad frames a close', async (t) => {
  const frame = (m: Buffer) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m])
  const s = await connect(server.port)
  const loops = pointerLoops()
  s.write(Buffer.concat([...loops, Buffer.concat([header(0x77), WWW_A])].map(frame)))
  const sent = [...loops, Buffer.concat([header(0x77), WWW_A])]
  const replies = await readFrames(s, sent.length)
  sent.forEach((q, i) => {
    t.is(replies[i].readUInt16BE(0), q.readUInt16BE(0), 'answered in order')
    t.is(replies[i][3] & 0x0f, q.readUInt16BE(0) === 0x77 ? 0 : 1)
  })
  // A frame shorter than a DNS header is dropped with the connection.
  s.write(frame(Buffer.from('short')))
  t.is((await readToEnd(s)).length, 0)
  // A frame that announces 65,535 bytes and stops: the connection waits, then goes when we close.
  const partial = await connect(server.port)
  partial.end(Buffer.concat([Buffer.from([0xff, 0xff]), Buffer.alloc(10)]))
  t.is((await readToEnd(partial)).length, 0)
  t.deepEqual((await dig(server.port, '+tcp', 'www.example.test', 'AAAA')).answers, ['www.example.test. 3600 IN AAAA 2001:db8::80'])
})
