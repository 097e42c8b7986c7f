// Unit tests of bot/web/static/support-widget.js with node's test runner
// (run by test_support_widget_js.py). A fake rasa-webchat registers the
// loader's socket handlers the way the real one does (onSocketEvent first,
// then its own "bot_uttered" listener); a fake socket and a fake inbox
// (GET .../inbox/<session>?include=all) stand in for Rasa.
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const test = require("node:test");
const vm = require("node:vm");

const SOURCE = fs.readFileSync(
  path.join(__dirname, "..", "..", "..", "bot", "web", "static", "support-widget.js"),
  "utf8",
);
const HOLD_MS = 300;
const AGENT = (name) => ({ style: "custom", css: `--rw-agent-name: "${name}"` });
const NOTICE = { style: "class", css: "rw-handoff-notice" };

class FakeSocket {
  constructor() {
    this.handlers = {};
  }
  listeners(event) {
    return this.list(event);
  }
  list(event) {
    return this.handlers[event] || (this.handlers[event] = []);
  }
  on(event, fn) {
    this.list(event).push(fn);
  }
  off(event, fn) {
    const list = this.list(event);
    const index = list.indexOf(fn);
    if (index !== -1) list.splice(index, 1);
  }
  receive(event, ...args) {
    for (const fn of this.list(event).slice()) fn.apply(this, args);
  }
}

function load({ inbox = [], storage = {}, takeover = true } = {}) {
  const shown = []; // what rasa-webchat was given to show
  const fetched = [];
  const socket = new FakeSocket();
  if (!takeover) socket.listeners = undefined; // a socket.io without the public API
  const store = {
    getItem: (key) => (key in storage ? storage[key] : null),
    setItem: (key, value) => {
      storage[key] = String(value);
    },
  };
  const WebChat = {
    default(props, element) {
      WebChat.props = props;
      WebChat.element = element;
      for (const [event, fn] of Object.entries(props.onSocketEvent)) socket.on(event, fn);
      socket.on("bot_uttered", (payload) => shown.push(payload));
    },
  };
  const document = {
    currentScript: { dataset: {}, src: "https://chat.example/static/support-widget.js" },
    querySelector: () => null,
  };
  const window = {
    WebChat,
    localStorage: store,
    sessionStorage: store,
    location: { href: "https://shop.example/", origin: "https://shop.example" },
  };
  const fetch = async (url) => {
    fetched.push(url);
    const body = inbox.length ? inbox.shift() : { messages: [] };
    return { ok: true, status: 200, json: async () => body };
  };
  const context = { window, document, fetch, console, setTimeout, clearTimeout, URL, WeakSet };
  vm.createContext(context);
  vm.runInContext(SOURCE, context);
  socket.receive("connect");
  return { socket, shown, fetched, storage, WebChat };
}

// Objects made inside the script's context have its own Object prototype.
const plain = (value) => JSON.parse(JSON.stringify(value));
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const marker = (fields) => ({ handoff: { ticket_id: 3, message_id: 7, ...fields } });
const inboxLine = (text, fields, at) => ({
  text,
  at,
  agent: fields.agent || null,
  custom: { data: { handoff: { ticket_id: 3, ...fields } } },
});

test("rasa-webchat is set up for the server the script came from", () => {
  const { WebChat, socket } = load();
  assert.equal(WebChat.props.socketUrl, "https://chat.example");
  assert.equal(WebChat.props.socketPath, "/socket.io/");
  assert.equal(WebChat.props.initPayload, "/greet");
  assert.deepEqual(plain(WebChat.props.params), { storage: "local" });
  // rasa-webchat's own listener was taken off the socket: only the loader's is left.
  assert.equal(socket.listeners("bot_uttered").length, 1);
});

test("a bot text is shown after the hold, other payloads at once and in order", async () => {
  const { socket, shown } = load();
  socket.receive("bot_uttered", { text: "Here's what I'd suggest:" });
  assert.deepEqual(plain(shown), []);
  const carousel = { attachment: { type: "template", payload: { template_type: "generic" } } };
  socket.receive("bot_uttered", carousel);
  assert.deepEqual(plain(shown), [{ text: "Here's what I'd suggest:" }, carousel]);
  socket.receive("bot_uttered", { text: "Not quite right?", quick_replies: [] });
  socket.receive("bot_uttered", { text: "Anything else?" });
  await wait(HOLD_MS + 50);
  assert.deepEqual(plain(shown.slice(2)), [
    { text: "Not quite right?", quick_replies: [] },
    { text: "Anything else?" },
  ]);
});

test("an agent's text is labelled, after a notice the first time", () => {
  const { socket, shown, storage } = load();
  socket.receive("session_confirm", "sess-1");
  socket.receive("bot_uttered", { text: "The bot's last word" });
  socket.receive("bot_uttered", { text: "Hi, I'm Dana" });
  socket.receive("bot_uttered", { text: "How can I help?" });
  socket.receive("bot_uttered", marker({ agent: "Dana", parts: 2 }));
  socket.receive("bot_uttered", { text: "Still there?" });
  socket.receive("bot_uttered", marker({ message_id: 8, agent: "Dana", parts: 1 }));

  assert.deepEqual(plain(shown), [
    { text: "The bot's last word" },
    { text: "Dana has joined the conversation.", metadata: { customCss: NOTICE } },
    { text: "Hi, I'm Dana", metadata: { customCss: AGENT("Dana") } },
    { text: "How can I help?", metadata: { customCss: AGENT("Dana") } },
    { text: "Still there?", metadata: { customCss: AGENT("Dana") } },
  ]);
  const saved = JSON.parse(storage["support-widget.handoff.sess-1"]);
  assert.deepEqual(saved, {
    version: null, // until the first catch-up is done
    shown: ["3:7", "3:8"],
    after: null,
    agents: { 3: "Dana" },
  });
});

test("names are quoted for CSS and escaped for Markdown", () => {
  const { socket, shown } = load();
  socket.receive("bot_uttered", { text: "Hello" });
  socket.receive("bot_uttered", marker({ agent: 'A* "B"\\', parts: 1 }));
  assert.deepEqual(plain(shown), [
    { text: 'A\\* "B"\\\\ has joined the conversation.', metadata: { customCss: NOTICE } },
    { text: "Hello", metadata: { customCss: AGENT('A* \\"B\\"\\\\') } },
  ]);
});

test("the hand back is a notice, and the next agent is announced again", () => {
  const { socket, shown } = load();
  socket.receive("bot_uttered", { text: "Hi" });
  socket.receive("bot_uttered", marker({ agent: "Dana", parts: 1 }));
  socket.receive("bot_uttered", { text: "You're back with the assistant." });
  socket.receive("bot_uttered", marker({ message_id: 8, handback: true, parts: 1 }));
  socket.receive("bot_uttered", { text: "Hello again" });
  socket.receive("bot_uttered", marker({ message_id: 9, agent: "Dana", parts: 1 }));
  assert.deepEqual(
    shown.map((payload) => payload.text),
    [
      "Dana has joined the conversation.",
      "Hi",
      "You're back with the assistant.",
      "Dana has joined the conversation.",
      "Hello again",
    ],
  );
  assert.deepEqual(plain(shown[2].metadata.customCss), NOTICE);
});

test("after connecting, missed lines come from the inbox once; their live echo is dropped", async () => {
  const inbox = [
    {
      messages: [
        { text: "no handoff payload: shown live before", at: "2025-03-14T10:00:00+00:00" },
        inboxLine("Hi, I'm Dana", { message_id: 7, agent: "Dana" }, "2025-03-14T10:01:00+00:00"),
        inboxLine("One\n\nTwo", { message_id: 8, agent: "Dana" }, "2025-03-14T10:02:00+00:00"),
      ],
    },
    { messages: [inboxLine("One\n\nTwo", { message_id: 8, agent: "Dana" }, "2025-03-14T10:02:00+00:00")] },
  ];
  const { socket, shown, fetched } = load({ inbox });
  socket.receive("session_confirm", "sess-2");
  await wait(50);
  // The live emission of line 8 arrives after it was read from the inbox.
  socket.receive("bot_uttered", { text: "One" });
  socket.receive("bot_uttered", { text: "Two" });
  socket.receive("bot_uttered", marker({ message_id: 8, agent: "Dana", parts: 2 }));
  await wait(2000 + 200); // the second look
  await wait(HOLD_MS);

  assert.deepEqual(
    shown.map((payload) => payload.text),
    ["Dana has joined the conversation.", "Hi, I'm Dana", "One", "Two"],
  );
  assert.deepEqual(fetched, [
    "https://chat.example/webhooks/rest/inbox/sess-2?include=all",
    "https://chat.example/webhooks/rest/inbox/sess-2?include=all&after=2025-03-14T10%3A02%3A00%2B00%3A00",
  ]);
});

test("after a reload, lines shown before are not shown again", async () => {
  const storage = {
    "support-widget.handoff.sess-3": JSON.stringify({
      shown: ["3:7"],
      after: null,
      agents: { 3: "Dana" },
    }),
  };
  const inbox = [
    {
      messages: [
        inboxLine("Shown before", { message_id: 7, agent: "Dana" }, "2025-03-14T10:01:00+00:00"),
        inboxLine("Missed", { message_id: 9, agent: "Dana" }, "2025-03-14T10:03:00+00:00"),
      ],
    },
  ];
  const { socket, shown } = load({ inbox, storage });
  socket.receive("session_confirm", "sess-3");
  await wait(50);
  assert.deepEqual(plain(shown), [{ text: "Missed", metadata: { customCss: AGENT("Dana") } }]);
});

test("an unreadable saved state or inbox answer is survived", async () => {
  const storage = { "support-widget.handoff.sess-4": "{not json" };
  const inbox = [{ messages: "nope" }];
  const { socket, shown } = load({ inbox, storage });
  socket.receive("session_confirm", "sess-4");
  await wait(50);
  socket.receive("bot_uttered", { text: "Hi" });
  socket.receive("bot_uttered", marker({ agent: "Dana", parts: 1 }));
  assert.equal(shown.length, 2);
  assert.deepEqual(JSON.parse(storage["support-widget.handoff.sess-4"]).shown, ["3:7"]);
});

// -- the bot's own messages: keyed by "at", caught up from the inbox ---------------------

const T1 = "2025-03-14T10:05:00.123456+00:00";
const T2 = "2025-03-14T10:06:00.654321+00:00";
const T3 = "2025-03-14T10:07:00+00:00";
const QR = [{ content_type: "text", title: "Cheaper", payload: "/cheaper" }];
const CARDS = { type: "template", payload: { template_type: "generic", elements: [{ title: "A" }] } };
const botLine = (text, at, payloads) => ({ text, at, agent: null, payloads });
// The loader's key of a payload shown: "<at> <FNV-1a hash of its JSON, base 36>".
function key(at, payload) {
  const text = JSON.stringify(payload);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return `${at} ${(hash >>> 0).toString(36)}`;
}
const stateOf = (storage, session) => JSON.parse(storage["support-widget.handoff." + session]);
const current = (shown, extra = {}) => ({ version: 2, shown, after: null, agents: {}, ...extra });

test("a live payload's key is taken off before rasa-webchat sees it, and remembered", async () => {
  const { socket, shown, storage } = load();
  socket.receive("session_confirm", "sess-5");
  await wait(50);
  socket.receive("bot_uttered", { text: "Hello", at: T1 });
  socket.receive("bot_uttered", { text: "Pick one", quick_replies: QR, at: T2 });
  socket.receive("bot_uttered", { attachment: CARDS, at: T2 });
  await wait(HOLD_MS + 50);
  assert.deepEqual(plain(shown), [
    { text: "Hello" },
    { text: "Pick one", quick_replies: QR },
    { attachment: CARDS },
  ]);
  assert.deepEqual(
    stateOf(storage, "sess-5"),
    current([
      key(T1, { text: "Hello" }),
      key(T2, { text: "Pick one", quick_replies: QR }),
      key(T2, { attachment: CARDS }),
    ]),
  );
});

test("when the takeover failed, rasa-webchat gets the payload without its key", () => {
  const { socket, shown, storage } = load({ takeover: false });
  socket.receive("session_confirm", "sess-6");
  socket.receive("bot_uttered", { text: "Hello", at: T1 });
  assert.deepEqual(plain(shown), [{ text: "Hello" }]);
  assert.deepEqual(stateOf(storage, "sess-6").shown, [key(T1, { text: "Hello" })]);
});

test("the bot's messages missed while disconnected are shown from the inbox, once", async () => {
  const storage = {
    "support-widget.handoff.sess-7": JSON.stringify(current([key(T1, { text: "Shown live before" })])),
  };
  const inbox = [
    {
      messages: [
        botLine("Shown live before", T1, [{ text: "Shown live before", at: T1 }]),
        botLine("Here you go.\n\nPick one", T2, [
          { text: "Here you go.", quick_replies: [], at: T2 },
          { text: "Pick one", quick_replies: QR, at: T2 },
        ]),
        // Another message of the same turn, emitted in the same microsecond.
        botLine("", T2, [{ attachment: CARDS, at: T2 }]),
        inboxLine("Hi, I'm Dana", { message_id: 7, agent: "Dana" }, T3),
      ],
    },
    { messages: [] },
  ];
  const { socket, shown, storage: saved, fetched } = load({ inbox, storage });
  socket.receive("session_confirm", "sess-7");
  await wait(50);
  // The live emission of a caught-up message arrives late: dropped.
  socket.receive("bot_uttered", { text: "Here you go.", quick_replies: [], at: T2 });
  await wait(2000 + 200 + HOLD_MS);

  assert.deepEqual(plain(shown), [
    { text: "Here you go.", quick_replies: [] },
    { text: "Pick one", quick_replies: QR },
    { attachment: CARDS },
    { text: "Dana has joined the conversation.", metadata: { customCss: NOTICE } },
    { text: "Hi, I'm Dana", metadata: { customCss: AGENT("Dana") } },
  ]);
  assert.deepEqual(
    stateOf(saved, "sess-7"),
    // The live key is matched, the caught-up payloads are behind "after": only
    // the agent's line is kept.
    current(["3:7"], { after: T3, agents: { 3: "Dana" } }),
  );
  assert.equal(fetched[1], "https://chat.example/webhooks/rest/inbox/sess-7?include=all&after=" + encodeURIComponent(T3));
});

test("a message shown live is not shown again from a later inbox answer", async () => {
  const inbox = [{ messages: [] }, { messages: [botLine("Hello", T1, [{ text: "Hello", at: T1 }])] }];
  const { socket, shown } = load({ inbox });
  socket.receive("session_confirm", "sess-8");
  await wait(50);
  socket.receive("bot_uttered", { text: "Hello", at: T1 }); // emitted before it was stored
  await wait(2000 + 200 + HOLD_MS);
  assert.deepEqual(plain(shown), [{ text: "Hello" }]);
});

test("a state of the previous version does not replay the history; later misses are shown", async () => {
  const storage = {
    "support-widget.handoff.sess-9": JSON.stringify({ shown: ["3:7"], after: null, agents: {} }),
  };
  const inbox = [
    {
      messages: [
        botLine("Old greeting", T1, [{ text: "Old greeting", at: T1 }]),
        inboxLine("Missed agent line", { message_id: 8, agent: "Dana" }, T2),
      ],
    },
    { messages: [botLine("Missed bot line", T3, [{ text: "Missed bot line", at: T3 }])] },
  ];
  const { socket, shown, storage: saved } = load({ inbox, storage });
  socket.receive("session_confirm", "sess-9");
  await wait(50);
  assert.deepEqual(
    shown.map((payload) => payload.text),
    ["Dana has joined the conversation.", "Missed agent line"],
  );
  assert.deepEqual(
    stateOf(saved, "sess-9"),
    current(["3:7", "3:8"], { after: T2, agents: { 3: "Dana" } }),
  );
  await wait(2000 + 200); // the second look: now on the current version
  assert.deepEqual(plain(shown[2]), { text: "Missed bot line" });
  assert.equal(shown.length, 3);
});

test("no saved state is treated like an old one: the first look only marks", async () => {
  const inbox = [{ messages: [botLine("Hello", T1, [{ text: "Hello", at: T1 }])] }];
  const { socket, shown, storage } = load({ inbox });
  socket.receive("session_confirm", "sess-10");
  await wait(50);
  assert.deepEqual(plain(shown), []);
  // Its live emission, which was on its way, is still shown.
  socket.receive("bot_uttered", { text: "Hello", at: T1 });
  await wait(HOLD_MS + 50);
  assert.deepEqual(plain(shown), [{ text: "Hello" }]);
  assert.deepEqual(stateOf(storage, "sess-10"), current([key(T1, { text: "Hello" })], { after: T1 }));
});

test("a message Rasa stamped anew after emitting it is not shown twice, either way", async () => {
  // The turn monitor's replies: emitted at .100000, stored at .102531.
  const EMITTED = "2025-03-14T10:05:00.100000+00:00";
  const STORED = "2025-03-14T10:05:00.102531+00:00";
  const sorry = { text: "I'm sorry, a person will take over." };
  const inbox = [
    { messages: [botLine(sorry.text, STORED, [{ ...sorry, at: STORED }])] },
    { messages: [botLine("Other", T3, [{ text: "Other", at: T3 }])] },
  ];
  const storage = { "support-widget.handoff.sess-11": JSON.stringify(current([])) };
  const first = load({ inbox, storage });
  first.socket.receive("session_confirm", "sess-11");
  first.socket.receive("bot_uttered", { ...sorry, at: EMITTED }); // live first
  await wait(HOLD_MS + 50);
  assert.deepEqual(plain(first.shown), [sorry]);

  // Caught up first, the live echo (earlier "at") late: dropped.
  const second = load({
    inbox: [{ messages: [botLine(sorry.text, STORED, [{ ...sorry, at: STORED }])] }],
    storage: { "support-widget.handoff.sess-12": JSON.stringify(current([])) },
  });
  second.socket.receive("session_confirm", "sess-12");
  await wait(50);
  second.socket.receive("bot_uttered", { ...sorry, at: EMITTED });
  await wait(HOLD_MS + 50);
  assert.deepEqual(plain(second.shown), [sorry]);
});

test("the payloads of a message not shown live are caught up, repeats too", async () => {
  const LATER = "2025-03-14T10:06:00.123456+00:00"; // a minute after T1
  const inbox = [
    {
      messages: [
        botLine("One\n\nTwo", T1, [
          { text: "One", at: T1 },
          { text: "Two", at: T1 },
        ]),
        botLine("One", LATER, [{ text: "One", at: LATER }]),
        botLine("Ok\n\nOk", T3, [
          { text: "Ok", at: T3 },
          { text: "Ok", at: T3 },
        ]),
      ],
    },
  ];
  const storage = {
    "support-widget.handoff.sess-13": JSON.stringify(current([key(T1, { text: "One" })])),
  };
  const { socket, shown } = load({ inbox, storage });
  socket.receive("session_confirm", "sess-13");
  await wait(50);
  assert.deepEqual(plain(shown), [{ text: "Two" }, { text: "One" }, { text: "Ok" }, { text: "Ok" }]);
});

// -- the same payload twice within seconds (a greeting pushed again, "Ok" twice) -----------

const SECONDS = (at, s) => new Date(Date.parse(at) + s * 1000).toISOString().replace("Z", "+00:00");
const GREETING = { text: "Hey, good to see you!" };

test("a repeat missed within seconds of the same payload shown live is caught up", async () => {
  const LATER = SECONDS(T1, 3);
  const inbox = [
    {
      messages: [
        botLine(GREETING.text, T1, [{ ...GREETING, at: T1 }]),
        botLine(GREETING.text, LATER, [{ ...GREETING, at: LATER }]),
      ],
    },
  ];
  const storage = { "support-widget.handoff.sess-14": JSON.stringify(current([key(T1, GREETING)])) };
  const { socket, shown, storage: saved } = load({ inbox, storage });
  socket.receive("session_confirm", "sess-14");
  await wait(50);
  assert.deepEqual(plain(shown), [GREETING]);
  // The live key was matched by the inbox: it cannot match a later message again.
  assert.deepEqual(stateOf(saved, "sess-14"), current([], { after: LATER }));
});

test("a repeat missed in a later inbox answer is caught up too", async () => {
  const LATER = SECONDS(T1, 3);
  const inbox = [
    { messages: [botLine(GREETING.text, T1, [{ ...GREETING, at: T1 }])] },
    { messages: [botLine(GREETING.text, LATER, [{ ...GREETING, at: LATER }])] },
  ];
  const storage = { "support-widget.handoff.sess-15": JSON.stringify(current([])) };
  const { socket, shown } = load({ inbox, storage });
  socket.receive("session_confirm", "sess-15");
  await wait(50);
  assert.deepEqual(plain(shown), [GREETING]);
  await wait(2000 + 200); // the second look
  assert.deepEqual(plain(shown), [GREETING, GREETING]);
});

test("an exact match is preferred: the earlier of two repeats, missed, is shown", async () => {
  const LATER = SECONDS(T1, 3);
  const inbox = [
    {
      messages: [
        botLine(GREETING.text, T1, [{ ...GREETING, at: T1 }]),
        botLine(GREETING.text, LATER, [{ ...GREETING, at: LATER }]),
      ],
    },
  ];
  const storage = { "support-widget.handoff.sess-16": JSON.stringify(current([key(LATER, GREETING)])) };
  const { socket, shown } = load({ inbox, storage });
  socket.receive("session_confirm", "sess-16");
  await wait(50);
  assert.deepEqual(plain(shown), [GREETING]);
});

test("live keys the inbox has passed are dropped from the saved state", async () => {
  const storage = {
    "support-widget.handoff.sess-17": JSON.stringify(
      current([key(T1, { text: "Stored out of order" }), "3:7", key(T3, { text: "Not read yet" })]),
    ),
  };
  const inbox = [{ messages: [botLine("Other", T2, [{ text: "Other", at: T2 }])] }];
  const { socket, storage: saved } = load({ inbox, storage });
  socket.receive("session_confirm", "sess-17");
  await wait(50);
  assert.deepEqual(
    stateOf(saved, "sess-17"),
    current(["3:7", key(T3, { text: "Not read yet" })], { after: T2 }),
  );
});
