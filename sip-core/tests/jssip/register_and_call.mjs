#!/usr/bin/env node
// A JsSIP user agent in Node.js that registers over SIP-over-WebSocket (RFC 7118), places one call, and
// hangs up. Driven by sip-core's `jssip_ws` integration test; usable by hand against any SIP WebSocket
// server (see README.md).
//
//   node register_and_call.mjs <ws-url> <user> <domain> [--password P] [--callee USER] [--ca FILE]
//                              [--expect-info] [--timeout-ms N]
//
// Every SIP message goes through JsSIP's own stack: its transport and transactions, its Registrator, and
// its RTCSession (INVITE, ACK, BYE, digest authentication). Node has no WebRTC, so the only stand-ins are
// the browser globals JsSIP reaches for: `WebSocket` is the `ws` package (optionally trusting a given CA),
// and `RTCPeerConnection` is a fixed-SDP peer connection that hands JsSIP a constant offer and checks the
// answer it is given. No media flows.
//
// Prints `key: value` summary lines on stdout and exits 0 once the whole sequence succeeded; otherwise prints
// `error: <reason>` and exits 1 (2 for bad arguments). Set DEBUG=JsSIP:* for JsSIP's own log on stderr.

import { readFileSync } from 'node:fs';
import process from 'node:process';
import JsSIP from 'jssip';
import WebSocket from 'ws';

const USAGE =
  'usage: node register_and_call.mjs <ws-url> <user> <domain> [--password P] [--callee USER] ' +
  '[--ca FILE] [--expect-info] [--timeout-ms N]';

/** The fixed SDP offer of the stand-in peer connection: one PCMU/PCMA audio stream, no ICE. */
const OFFER = [
  'v=0',
  'o=- 4242 1 IN IP4 127.0.0.1',
  's=tandem-jssip-interop',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 40000 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=sendrecv',
  '',
].join('\r\n');

function parseArgs(argv) {
  const positional = [];
  const options = { callee: 'echo', expectInfo: false, timeoutMs: 20000 };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      i += 1;
      if (i >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[i];
    };
    switch (arg) {
      case '--password': options.password = value(); break;
      case '--callee': options.callee = value(); break;
      case '--ca': options.ca = value(); break;
      case '--expect-info': options.expectInfo = true; break;
      case '--timeout-ms': options.timeoutMs = Number(value()); break;
      default:
        if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
        positional.push(arg);
    }
  }
  if (positional.length !== 3) throw new Error('expected <ws-url> <user> <domain>');
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
    throw new Error('--timeout-ms needs a positive number');
  }
  [options.url, options.user, options.domain] = positional;
  return options;
}

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(`${error.message}\n${USAGE}`);
  process.exit(2);
}

// ---- What happened, for the summary and for failures -------------------------------------------------

const summary = [];
/** The step the run is at, named in a timeout. */
let step = 'connecting';
/** Start line and CSeq of every SIP message on the wire, in order, `>` sent and `<` received. */
const wire = [];

function note(key, value) {
  summary.push(`${key}: ${value}`);
}

function finish(code, reason) {
  for (const line of summary) console.log(line);
  console.log(`wire: ${wire.join(' | ')}`);
  if (code === 0) {
    console.log('result: ok');
  } else {
    console.log(`error: ${reason}`);
  }
  process.exit(code);
}

function fail(reason) {
  finish(1, `${reason} (at step: ${step})`);
}

setTimeout(() => fail(`timed out after ${options.timeoutMs} ms`), options.timeoutMs);
process.on('uncaughtException', (error) => fail(`uncaught exception: ${error.stack ?? error}`));
process.on('unhandledRejection', (error) => fail(`unhandled rejection: ${error?.stack ?? error}`));

// ---- Browser globals JsSIP expects ---------------------------------------------------------------------

/** `Start-line [CSeq]` of a SIP message, for the wire trace. */
function describe(message) {
  const text = typeof message === 'string' ? message : Buffer.from(message).toString('utf8');
  const startLine = text.slice(0, text.indexOf('\r\n'));
  const cseq = /^CSeq:\s*(.+)$/im.exec(text);
  return cseq ? `${startLine} [${cseq[1].trim()}]` : startLine;
}

/** What the WebSocket last failed with (JsSIP's `disconnected` event does not say). */
let socketError = null;
/** Called with each received message, so that a step can wait for a response JsSIP does not report. */
const receivedListeners = new Set();
/** Status codes of the responses to INVITEs, in order (JsSIP reports neither 100 nor 401 to the app). */
const inviteResponses = [];

const ca = options.ca ? readFileSync(options.ca) : undefined;

// JsSIP's WebSocketInterface calls `new WebSocket(url, 'sip')`; this subclass adds the trusted CA (when
// given) and records the traffic. JsSIP itself still frames, sends and parses every message.
class TappedWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, ca ? { ca } : {});
    this.addEventListener('error', (e) => {
      socketError = e.message ?? String(e.error);
    });
    this.addEventListener('message', ({ data }) => {
      const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
      wire.push(`< ${describe(text)}`);
      if (/^SIP\/2\.0 \d{3}/.test(text) && /^CSeq:\s*\d+\s+INVITE\s*$/im.test(text)) {
        inviteResponses.push(Number(text.slice(8, 11)));
      }
      for (const listener of receivedListeners) listener(text);
    });
  }

  send(data, ...rest) {
    wire.push(`> ${describe(data)}`);
    return super.send(data, ...rest);
  }
}

/** A peer connection without media: a constant offer, and an answer that must at least look like SDP. */
class FixedOfferPeerConnection extends EventTarget {
  constructor() {
    super();
    this.localDescription = null;
    this.remoteDescription = null;
    this.signalingState = 'stable';
    this.iceGatheringState = 'complete';
    this.iceConnectionState = 'new';
  }

  async createOffer() {
    return { type: 'offer', sdp: OFFER };
  }

  async createAnswer() {
    throw new Error('this client only makes calls; it cannot answer an offer');
  }

  async setLocalDescription(description) {
    this.localDescription = description;
    this.signalingState = description.type === 'offer' ? 'have-local-offer' : 'stable';
  }

  async setRemoteDescription(description) {
    if (description.type !== 'answer' || !/^v=0\r?\n/.test(description.sdp) ||
        !/^m=audio /m.test(description.sdp)) {
      throw new Error(`not an SDP answer with audio: ${JSON.stringify(description.sdp)}`);
    }
    this.remoteDescription = description;
    this.signalingState = 'stable';
  }

  addTrack() {
    throw new Error('no media in this client');
  }

  getSenders() {
    return [];
  }

  getReceivers() {
    return [];
  }

  close() {
    this.signalingState = 'closed';
  }
}

class PlainSessionDescription {
  constructor({ type, sdp }) {
    this.type = type;
    this.sdp = sdp;
  }
}

globalThis.window = globalThis;
globalThis.WebSocket = TappedWebSocket;
globalThis.RTCPeerConnection = FixedOfferPeerConnection;
globalThis.RTCSessionDescription = PlainSessionDescription;

// ---- The run: register, call, (take an INFO), hang up, unregister --------------------------------------

const socket = new JsSIP.WebSocketInterface(options.url);
const ua = new JsSIP.UA({
  sockets: [socket],
  uri: `sip:${options.user}@${options.domain}`,
  password: options.password,
  register: true,
  register_expires: 300,
  user_agent: 'tandem-jssip-interop',
  // One connection attempt is enough for a test: a refused connection fails the run instead of retrying.
  connection_recovery_min_interval: 2,
  connection_recovery_max_interval: 2,
});

let connections = 0;
ua.on('connected', () => {
  connections += 1;
  note('connected', `${options.url} via ${socket.via_transport}`);
  step = 'registering';
});
ua.on('disconnected', (e) => {
  if (step === 'stopping') return;
  fail(`WebSocket disconnected (code ${e.code}${socketError ? `: ${socketError}` : ''})`);
});
ua.on('registrationFailed', (e) => fail(`registration failed: ${e.cause}${statusOf(e.response)}`));
ua.on('registered', (e) => {
  const contact = e.response.getHeader('Contact');
  note('registered', `${e.response.status_code} contact=${contact}`);
  call();
});
ua.on('unregistered', (e) => {
  if (step !== 'unregistering') return;
  note('unregistered', e.response ? e.response.status_code : 'no response');
  note('connections', connections);
  step = 'stopping';
  ua.stop();
  finish(0);
});

function statusOf(response) {
  return response ? ` (${response.status_code} ${response.reason_phrase})` : '';
}

function call() {
  step = 'calling';
  const target = `sip:${options.callee}@${options.domain}`;
  let infoSeen = false;
  let confirmed = false;
  const session = ua.call(target, {
    mediaConstraints: { audio: false, video: false },
    eventHandlers: {
      accepted: (e) => {
        note('invite-responses', inviteResponses.join(' '));
        note('answered', `${e.response.status_code} sdp=${e.response.body ? 'yes' : 'no'}`);
      },
      confirmed: () => {
        note('ack', 'sent');
        confirmed = true;
        step = options.expectInfo ? 'waiting for INFO' : 'hanging up';
        if (!options.expectInfo || infoSeen) hangUp(session);
      },
      newInfo: (e) => {
        if (e.originator !== 'remote') return;
        infoSeen = true;
        note('info', `${e.info.contentType} ${JSON.stringify(e.info.body)}`);
        if (confirmed) hangUp(session);
      },
      failed: (e) => fail(`call failed: ${e.cause}${statusOf(e.message)}`),
      ended: (e) => {
        if (e.originator !== 'local') fail(`call ended by the ${e.originator}: ${e.cause}`);
      },
    },
  });
  note('invite', target);
  return session;
}

function hangUp(session) {
  step = 'waiting for the BYE response';
  const byeResponse = (text) => /^SIP\/2\.0 \d{3}/.test(text) && /^CSeq:\s*\d+\s+BYE\s*$/im.test(text);
  const onBye = (text) => {
    if (!byeResponse(text)) return;
    receivedListeners.delete(onBye);
    const status = Number(text.slice(8, 11));
    note('bye', status);
    if (status !== 200) fail(`BYE answered ${status}`);
    step = 'unregistering';
    ua.unregister();
  };
  receivedListeners.add(onBye);
  session.terminate();
}

ua.start();
