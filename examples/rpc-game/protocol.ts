/**
 * What the lobby's server and client share: the LTV codec, the message id RPC frames travel
 * under, the heartbeat frame, and the shapes of the payloads (JSON).
 */
import { codecs, ltvRecord } from 'riptide'
import { notifyFrame } from 'riptide/rpc'

/** Cellnet's packet layout (the defaults): size u16 | msgId u16 | body, little-endian. */
export const codec = codecs.ltv()

/** The LTV message id of RPC frames. */
export const RPC_MSG_ID = 1

/**
 * The heartbeat both sides send when they have written nothing for a while (the engine's
 * `heartbeat` option writes it): an RPC notification `heartbeat`, as a whole LTV record.
 */
export const heartbeatPing = ltvRecord(codec, RPC_MSG_ID, notifyFrame('heartbeat', null))

/** A player as the room's state lists it. */
export interface PlayerState {
  name: string
  x: number
  y: number
}

/** A room's state, pushed to its members (`state`) and returned by `join`. */
export interface RoomState {
  room: string
  players: PlayerState[]
}
