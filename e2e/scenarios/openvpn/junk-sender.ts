// A bounded junk-packet flood for the OpenVPN flood scenario, run inside a lab namespace:
//
//   ip netns exec weft-<id>-inet node junk-sender.js <host> <port> <packets/s> <seconds>
//
// Sends exactly rate × seconds UDP datagrams from one socket, paced in 10 ms steps. Each datagram starts
// with the P_CONTROL_HARD_RESET_CLIENT_V2 opcode (7 << 3, key id 0) followed by 15–199 random bytes, so
// openvpn takes it for a control packet and runs the tls-crypt check on it (fully random payloads are
// mostly dropped without a log line: modules/openvpn/src/diagnosis/README.md). Prints one JSON line:
// { sent, errors, seconds }.
import { randomBytes, randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';

const P_CONTROL_HARD_RESET_CLIENT_V2 = 7;
const STEP_MS = 10;

function junk(): Buffer {
  const packet = randomBytes(randomInt(16, 201));
  packet[0] = P_CONTROL_HARD_RESET_CLIENT_V2 << 3;
  return packet;
}

async function main(): Promise<void> {
  const [host, portText, rateText, secondsText] = process.argv.slice(2);
  const port = Number(portText);
  const rate = Number(rateText);
  const seconds = Number(secondsText);
  if (
    !host ||
    !(port > 0 && port < 65536) ||
    !(rate > 0 && rate <= 10_000) ||
    !(seconds > 0 && seconds <= 60)
  )
    throw new Error('usage: junk-sender <host> <port> <packets/s ≤ 10000> <seconds ≤ 60>');
  const total = rate * seconds;
  const socket = createSocket('udp4');
  let sent = 0;
  let errors = 0;
  let queued = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const step = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000));
      for (; queued < due; queued++) {
        socket.send(junk(), port, host, (err) => {
          if (err) errors++;
          else sent++;
          if (sent + errors === total) resolve();
        });
      }
      if (queued < total) setTimeout(step, STEP_MS);
    };
    step();
  });
  socket.close();
  const elapsed = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ sent, errors, seconds: Number(elapsed.toFixed(2)) }) + '\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
