// examples/rpc-game end to end, in this process: players join a room, move, and see the room's
// state pushed to every member; a player whose heartbeats stop is kicked by the server's
// heartbeat timeout and its room is told, while a player that keeps sending heartbeats stays.
import test from 'ava'
import { LobbyClient } from '../examples/rpc-game/client'
import { startLobby } from '../examples/rpc-game/server'
import { until } from './helpers'

test('join, move and leave; the room state is pushed to every member', async (t) => {
  const engine = await startLobby()
  const ann = await LobbyClient.connect(engine.port)
  const bob = await LobbyClient.connect(engine.port)
  t.deepEqual(await ann.join('ann', 'red'), { room: 'red', players: [{ name: 'ann', x: 0, y: 0 }] })
  t.deepEqual((await bob.join('bob', 'red')).players.map((p) => p.name).sort(), ['ann', 'bob'])
  t.deepEqual(await ann.move(1, 0), { x: 1, y: 0 })
  t.deepEqual(await ann.move(1, -1), { x: 2, y: -1 })
  const annAt = (states: LobbyClient['states']) => states.at(-1)?.players.find((p) => p.name === 'ann')
  await until(() => annAt(bob.states)?.x === 2 && annAt(bob.states)?.y === -1)
  t.pass('bob saw ann move')
  await t.throwsAsync(ann.move(5, 0), { code: 'ERR_BAD_REQUEST' })
  await bob.leave()
  await until(() => ann.states.at(-1)?.players.length === 1)
  await t.throwsAsync(bob.move(1, 0), { code: 'ERR_NOT_JOINED' })
  ann.close()
  bob.close()
  await engine.stop()
})

test('a player whose heartbeats stop is kicked and its room is told; one that sends them stays', async (t) => {
  const engine = await startLobby({ heartbeatInterval: 100, heartbeatTimeout: 600 })
  const alive = await LobbyClient.connect(engine.port, { heartbeatInterval: 100 })
  const silent = await LobbyClient.connect(engine.port, { heartbeat: false })
  await alive.join('alive', 'blue')
  await silent.join('silent', 'blue')
  await until(() => alive.states.at(-1)?.players.length === 2)
  const started = performance.now()
  const code = await silent.closed
  const after = performance.now() - started
  t.log(`the silent player was kicked ${after.toFixed(0)} ms after its last request (timeout 600 ms); its side saw ${code ?? 'a clean close'}`)
  await until(() => alive.states.at(-1)?.players.map((p) => p.name).join() === 'alive')
  // Well past several timeouts, the heartbeating player is still in and still answered.
  await new Promise((r) => setTimeout(r, 1500))
  t.deepEqual(await alive.move(0, 1), { x: 0, y: 1 })
  t.is(engine.countConnections(), 1)
  alive.close()
  await engine.stop()
})
