// The VICI packet layer: the first byte of a frame is the packet type; named types follow it with an
// 8-bit length and the name; requests, responses and events carry a message in the rest of the frame.
// Messages stay bytes here: the session decodes them (as strings or raw), so a bad message body is
// reported against the command or event it belongs to.
import { ViciEncodeError, ViciParseError } from './vici.errors.js';

export const ViciPacketType = {
  CMD_REQUEST: 0,
  CMD_RESPONSE: 1,
  CMD_UNKNOWN: 2,
  EVENT_REGISTER: 3,
  EVENT_UNREGISTER: 4,
  EVENT_CONFIRM: 5,
  EVENT_UNKNOWN: 6,
  EVENT: 7,
} as const;

export type ViciPacket =
  | { type: 'cmd-request'; name: string; message: Buffer }
  | { type: 'cmd-response'; message: Buffer }
  | { type: 'cmd-unknown' }
  | { type: 'event-register'; name: string }
  | { type: 'event-unregister'; name: string }
  | { type: 'event-confirm' }
  | { type: 'event-unknown' }
  | { type: 'event'; name: string; message: Buffer };

export function encodePacket(packet: ViciPacket): Buffer {
  switch (packet.type) {
    case 'cmd-request':
      return Buffer.concat([named(ViciPacketType.CMD_REQUEST, packet.name), packet.message]);
    case 'cmd-response':
      return Buffer.concat([Buffer.of(ViciPacketType.CMD_RESPONSE), packet.message]);
    case 'cmd-unknown':
      return Buffer.of(ViciPacketType.CMD_UNKNOWN);
    case 'event-register':
      return named(ViciPacketType.EVENT_REGISTER, packet.name);
    case 'event-unregister':
      return named(ViciPacketType.EVENT_UNREGISTER, packet.name);
    case 'event-confirm':
      return Buffer.of(ViciPacketType.EVENT_CONFIRM);
    case 'event-unknown':
      return Buffer.of(ViciPacketType.EVENT_UNKNOWN);
    case 'event':
      return Buffer.concat([named(ViciPacketType.EVENT, packet.name), packet.message]);
  }
}

function named(type: number, name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > 0xff)
    throw new ViciEncodeError(`VICI packet name is ${bytes.length} bytes, at most 255`);
  return Buffer.concat([Buffer.of(type, bytes.length), bytes]);
}

/** Decodes one frame's payload. The message of the result is a copy, not a view into `payload`. */
export function decodePacket(payload: Uint8Array): ViciPacket {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  if (bytes.length === 0) throw new ViciParseError('VICI packet is empty');
  const type = bytes.readUInt8(0);
  const readName = (): { name: string; rest: Buffer } => {
    if (bytes.length < 2) throw new ViciParseError(`VICI packet of type ${type} has no name`);
    const len = bytes.readUInt8(1);
    if (bytes.length < 2 + len) throw new ViciParseError(`VICI packet of type ${type}: name truncated`);
    return { name: bytes.toString('utf8', 2, 2 + len), rest: Buffer.from(bytes.subarray(2 + len)) };
  };
  const bare = (): void => {
    if (bytes.length !== 1) {
      throw new ViciParseError(`VICI packet of type ${type} carries ${bytes.length - 1} unexpected bytes`);
    }
  };
  switch (type) {
    case ViciPacketType.CMD_REQUEST: {
      const { name, rest } = readName();
      return { type: 'cmd-request', name, message: rest };
    }
    case ViciPacketType.CMD_RESPONSE:
      return { type: 'cmd-response', message: Buffer.from(bytes.subarray(1)) };
    case ViciPacketType.CMD_UNKNOWN:
      bare();
      return { type: 'cmd-unknown' };
    case ViciPacketType.EVENT_REGISTER:
    case ViciPacketType.EVENT_UNREGISTER: {
      const { name, rest } = readName();
      if (rest.length !== 0) throw new ViciParseError(`VICI packet of type ${type} carries a message`);
      return { type: type === ViciPacketType.EVENT_REGISTER ? 'event-register' : 'event-unregister', name };
    }
    case ViciPacketType.EVENT_CONFIRM:
      bare();
      return { type: 'event-confirm' };
    case ViciPacketType.EVENT_UNKNOWN:
      bare();
      return { type: 'event-unknown' };
    case ViciPacketType.EVENT: {
      const { name, rest } = readName();
      return { type: 'event', name, message: rest };
    }
    default:
      throw new ViciParseError(`VICI packet has unknown type ${type}`);
  }
}
