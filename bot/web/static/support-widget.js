/*
 * The support assistant's web chat: rasa-webchat (window.WebChat, loaded by an
 * earlier <script>) set up for this project, plus two things rasa-webchat
 * cannot do on its own.
 *
 * Human agents. Rasa's socket.io channel emits an agent's message as plain
 * text, followed by a {"handoff": {...}} payload (see
 * bot/handoff/rasa_gateway.py). Plain texts are therefore held back for
 * HOLD_MS; when a handoff payload follows, they are shown as the agent's
 * (labelled with the name, after "<Agent> has joined the conversation.").
 *
 * Catching up. socket.io drops what Rasa emits while the connection is down.
 * Every payload Rasa emits for a bot message carries "at", the message's time
 * (bot/channels/socketio.py), which this script takes off the payload; it
 * remembers "<at> <hash of the payload>" for each payload shown. After every
 * (re)connection it reads the conversation's bot messages from the inbox
 * (GET /webhooks/rest/inbox/<session id>?include=all) and shows those not
 * shown yet, once: an agent's line as above (its key is "ticket:message"),
 * any other message by handing rasa-webchat the payloads it was emitted as
 * that were not shown. A payload counts as shown if one with the same hash
 * was shown live at the same time or, failing that, at most MATCH_MS apart:
 * Rasa stamps the replies of the slot mapping action (the handoff turn
 * monitor's) anew after emitting them, so the inbox's "at" of such a message
 * is slightly later than the emitted one. Each key shown live matches one
 * inbox payload only, so a repeat seconds later (the same greeting twice) is
 * still caught up. The keys are kept in the same storage as the conversation
 * until the inbox has passed them. A state saved
 * by an older version of this script, or none, has no version: the first
 * catch-up then marks the bot's messages as shown without showing them
 * (rasa-webchat's history has them, or they were lost before this version).
 *
 * To do all this, the script takes rasa-webchat's own "bot_uttered" listener
 * off the socket.io socket and calls it itself (socket.listeners / socket.off
 * are socket.io's public API). If that ever fails, rasa-webchat shows every
 * live message itself, without the agent labels, and none from the inbox.
 *
 * Attributes of the <script> tag (all optional):
 *   data-server        the widget server, e.g. https://chat.example.com
 *                      (default: where this script was loaded from)
 *   data-target        CSS selector of the element to render into
 *                      (default: a floating launcher at the bottom right)
 *   data-embedded      "true": the chat fills data-target, always open
 *   data-title, data-subtitle   the chat's header
 *   data-storage       "local" (default: the chat survives closing the
 *                      browser) or "session" (one tab's lifetime)
 *   data-init-payload  sent when the chat first opens (default "/greet")
 *   data-status        CSS selector of an element that shows the connection
 */
(function () {
  "use strict";

  var HOLD_MS = 300;
  var INBOX_PAGE = 200; // the inbox's largest answer (bot/channels/rest.py)
  var MAX_KEYS = 1000;
  var MATCH_MS = 5000;
  var SECOND_LOOK_MS = 2000;
  var STATE_PREFIX = "support-widget.handoff.";
  var STATE_VERSION = 2; // keys of the bot's messages too
  var NOTICE = { style: "class", css: "rw-handoff-notice" };
  var STATUS_TEXT = {
    connecting: "Connecting…",
    online: "Connected",
    offline: "Reconnecting…",
  };

  var config = readConfig(document.currentScript);
  var storage = config.storage === "session" ? window.sessionStorage : window.localStorage;

  var socket = null;
  var takenOver = new WeakSet();
  var widgetHandlers = [];
  var held = [];
  var holdTimer = null;
  var sessionId = null;
  var state = emptyState();
  var caughtUp = []; // keys of payloads shown from the inbox on this page
  var catchUpChain = Promise.resolve();

  if (!window.WebChat || typeof window.WebChat.default !== "function") {
    console.error("support-widget.js: load rasa-webchat.js before this script");
    return;
  }
  setStatus("connecting");
  window.WebChat.default(
    {
      socketUrl: config.server,
      socketPath: "/socket.io/",
      initPayload: config.initPayload,
      title: config.title,
      subtitle: config.subtitle,
      embedded: config.embedded,
      params: { storage: config.storage },
      withRules: false,
      hideWhenNotConnected: false,
      inputTextFieldHint: "Type a message…",
      customMessageDelay: function (text) {
        return Math.min(1000, Math.max(200, 10 * text.length));
      },
      onSocketEvent: {
        connect: onConnect,
        session_confirm: onSessionConfirm,
        bot_uttered: onBotUttered,
        disconnect: onDisconnect,
        connect_error: onDisconnect,
      },
    },
    config.target ? document.querySelector(config.target) : null,
  );

  function readConfig(script) {
    var data = (script && script.dataset) || {};
    var origin = script && script.src ? new URL(script.src, window.location.href).origin : "";
    return {
      server: (data.server || origin || window.location.origin).replace(/\/+$/, ""),
      target: data.target || null,
      embedded: data.embedded === "true",
      title: data.title || "Support",
      subtitle: data.subtitle || "",
      storage: data.storage === "session" ? "session" : "local",
      initPayload: data.initPayload || "/greet",
      status: data.status || null,
    };
  }

  // -- the socket ----------------------------------------------------------------

  function onConnect() {
    takeOver(this);
  }

  function takeOver(candidate) {
    socket = candidate;
    if (takenOver.has(candidate) || typeof candidate.listeners !== "function") return;
    var theirs = candidate.listeners("bot_uttered").filter(function (fn) {
      return fn !== onBotUttered;
    });
    if (!theirs.length) return;
    theirs.forEach(function (fn) {
      candidate.off("bot_uttered", fn);
    });
    widgetHandlers = theirs;
    takenOver.add(candidate);
  }

  function onSessionConfirm(data) {
    var id = data && data.session_id ? data.session_id : data;
    if (typeof id !== "string" || !id) return;
    if (id !== sessionId) {
      sessionId = id;
      state = loadState(id);
      caughtUp = [];
    }
    setStatus("online");
    queueCatchUp();
    // Rasa emits a message before it stores it; look again for one emitted
    // just before this connection joined and stored just after the first look.
    setTimeout(queueCatchUp, SECOND_LOOK_MS);
  }

  function onDisconnect() {
    setStatus("offline");
  }

  function onBotUttered(payload) {
    var key = takeKey(payload);
    if (!takenOver.has(this)) {
      if (key) remember(key); // rasa-webchat's own listener shows it
      return;
    }
    if (key) {
      var index = matchIndex(caughtUp, key, false);
      if (index !== -1) {
        caughtUp.splice(index, 1); // already shown from the inbox
        return;
      }
      remember(key);
    }
    var marker = handoffOf(payload);
    if (marker) {
      onMarker(marker);
    } else if (isPlainText(payload)) {
      hold(payload.text);
    } else {
      flush();
      deliver(payload);
    }
  }

  // The payload's key, its "at" taken off: rasa-webchat tells payloads apart
  // by their keys, as does isPlainText. Called before rasa-webchat's own
  // listener, which gets the same object.
  function takeKey(payload) {
    if (!payload || typeof payload !== "object" || typeof payload.at !== "string") return null;
    var at = payload.at;
    delete payload.at;
    return payloadKey(at, payload);
  }

  function payloadKey(at, payload) {
    var text = JSON.stringify(payload);
    var hash = 0x811c9dc5; // FNV-1a
    for (var i = 0; i < text.length; i += 1) {
      hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    }
    return at + " " + (hash >>> 0).toString(36);
  }

  // The index in keys of the same payload at key's time (exact) or at most
  // MATCH_MS from it; -1 if none.
  function matchIndex(keys, key, exact) {
    var space = key.indexOf(" ");
    var time = Date.parse(key.slice(0, space));
    var hash = key.slice(space);
    return keys.findIndex(function (other) {
      if (exact || other === key) return other === key;
      var at = other.indexOf(" ");
      if (at === -1 || other.slice(at) !== hash) return false;
      return Math.abs(Date.parse(other.slice(0, at)) - time) <= MATCH_MS;
    });
  }

  function deliver(payload) {
    widgetHandlers.forEach(function (fn) {
      fn.call(socket, payload);
    });
  }

  // -- agents' messages ------------------------------------------------------------

  function hold(text) {
    held.push(text);
    if (holdTimer === null) holdTimer = setTimeout(flush, HOLD_MS);
  }

  function flush() {
    if (holdTimer !== null) clearTimeout(holdTimer);
    holdTimer = null;
    var texts = held;
    held = [];
    texts.forEach(function (text) {
      deliver({ text: text });
    });
  }

  function onMarker(marker) {
    var parts = Math.max(1, Math.min(Number(marker.parts) || 1, held.length));
    var own = held.length ? held.splice(held.length - parts, parts) : [];
    flush(); // earlier texts are the bot's
    if (isShown(keyOf(marker))) return; // already shown from the inbox
    if (!own.length) {
      remember(keyOf(marker)); // held too long and shown plain
      return;
    }
    show(marker, own);
  }

  function show(marker, texts) {
    var ticket = String(marker.ticket_id);
    if (marker.handback === true || marker.closed === true) {
      texts.forEach(function (text) {
        deliver(styled(text, NOTICE));
      });
      delete state.agents[ticket];
    } else {
      var agent = typeof marker.agent === "string" && marker.agent.trim() ? marker.agent.trim() : "An agent";
      if (state.agents[ticket] !== agent) {
        deliver(styled(escapeMarkdown(agent) + " has joined the conversation.", NOTICE));
        state.agents[ticket] = agent;
      }
      texts.forEach(function (text) {
        deliver(styled(text, agentStyle(agent)));
      });
    }
    remember(keyOf(marker));
  }

  function styled(text, customCss) {
    return { text: text, metadata: { customCss: customCss } };
  }

  function agentStyle(agent) {
    // The name is shown by CSS (support-widget.css) from this custom property.
    var quoted = agent.replace(/[\u0000-\u001f\u007f]/g, " ").replace(/["\\]/g, "\\$&");
    return { style: "custom", css: '--rw-agent-name: "' + quoted + '"' };
  }

  function escapeMarkdown(text) {
    return text.replace(/[\\`*_{}\[\]()#+\-.!<>|~]/g, "\\$&");
  }

  function handoffOf(payload) {
    var handoff = payload && payload.handoff;
    if (!handoff || typeof handoff !== "object") return null;
    if (!Number.isInteger(handoff.ticket_id) || !Number.isInteger(handoff.message_id)) return null;
    return handoff;
  }

  function isPlainText(payload) {
    return (
      payload !== null &&
      typeof payload === "object" &&
      typeof payload.text === "string" &&
      Object.keys(payload).length === 1
    );
  }

  // -- catching up -------------------------------------------------------------------

  function queueCatchUp() {
    catchUpChain = catchUpChain.then(catchUp);
  }

  async function catchUp() {
    var session = sessionId;
    if (!session) return;
    var baseline = state.version !== STATE_VERSION;
    for (var round = 0; round < 10; round += 1) {
      var messages;
      try {
        messages = await readInbox(session, state.after);
      } catch (error) {
        console.warn("support-widget: could not look for missed messages:", error.message);
        return;
      }
      if (session !== sessionId) return;
      var entries = messages.map(entryOf);
      confirmShownLive(entries);
      entries.forEach(function (entry) {
        showMissed(entry, baseline);
      });
      var done = messages.length < INBOX_PAGE;
      if (messages.length) {
        state.after = messages[messages.length - 1].at;
        forgetPassed(state.after);
      }
      if (done) state.version = STATE_VERSION;
      if (messages.length || baseline) saveState();
      if (done) return;
    }
  }

  async function readInbox(session, after) {
    var url = config.server + "/webhooks/rest/inbox/" + encodeURIComponent(session);
    url += "?include=all";
    if (after) url += "&after=" + encodeURIComponent(after);
    var response = await fetch(url, { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error("the inbox answered " + response.status);
    var body = await response.json();
    var messages = body && Array.isArray(body.messages) ? body.messages : [];
    return messages.filter(function (message) {
      return message && typeof message.text === "string" && typeof message.at === "string";
    });
  }

  // An inbox message: an agent's line (marker), or the bot's payloads, each with
  // its key and whether it was shown live (seen, set by confirmShownLive).
  function entryOf(message) {
    var marker = handoffOf(message.custom && message.custom.data);
    if (marker) return { message: message, marker: marker, payloads: [] };
    var payloads = [];
    (Array.isArray(message.payloads) ? message.payloads : []).forEach(function (payload) {
      if (!payload || typeof payload !== "object") return;
      var copy = Object.assign({}, payload);
      delete copy.at;
      payloads.push({ payload: copy, key: payloadKey(message.at, copy), seen: false });
    });
    return { message: message, marker: null, payloads: payloads };
  }

  // Each key of a payload shown live stands for one inbox payload, which takes it
  // out of state.shown: the same greeting pushed again a second later is then
  // not taken for the one shown live. Same times first, then MATCH_MS apart.
  function confirmShownLive(entries) {
    var payloads = [];
    entries.forEach(function (entry) {
      payloads.push.apply(payloads, entry.payloads);
    });
    [true, false].forEach(function (exact) {
      payloads.forEach(function (item) {
        if (item.seen) return;
        var index = matchIndex(state.shown, item.key, exact);
        if (index === -1) return;
        state.shown.splice(index, 1);
        item.seen = true;
      });
    });
  }

  // baseline: only agents' lines (see the header).
  function showMissed(entry, baseline) {
    if (entry.marker) {
      if (isShown(keyOf(entry.marker))) return;
      flush();
      show(entry.marker, entry.message.text.trim().split("\n\n"));
      return;
    }
    var missed = entry.payloads.filter(function (item) {
      return !item.seen;
    });
    if (baseline || !missed.length) return;
    flush();
    missed.forEach(function (item) {
      caughtUp.push(item.key);
      deliver(item.payload);
    });
  }

  // The inbox has answered up to `after`: a payload shown live more than
  // MATCH_MS before it that no answer matched never will be (its message was
  // stored out of order); agents' keys ("ticket:message") stay.
  function forgetPassed(after) {
    var limit = Date.parse(after) - MATCH_MS;
    state.shown = state.shown.filter(function (key) {
      var space = key.indexOf(" ");
      return space === -1 || !(Date.parse(key.slice(0, space)) < limit);
    });
  }

  // -- what has been shown ---------------------------------------------------------

  // version: STATE_VERSION, or null until the first catch-up (see the header).
  function emptyState() {
    return { version: null, shown: [], after: null, agents: {} };
  }

  function loadState(id) {
    try {
      var saved = JSON.parse(storage.getItem(STATE_PREFIX + id) || "null");
      if (saved && Array.isArray(saved.shown) && saved.agents && typeof saved.agents === "object") {
        return {
          version: saved.version === STATE_VERSION ? STATE_VERSION : null,
          shown: saved.shown,
          after: saved.after || null,
          agents: saved.agents,
        };
      }
    } catch (error) {
      console.warn("support-widget: ignoring unreadable saved state:", error.message);
    }
    return emptyState();
  }

  function saveState() {
    if (!sessionId) return;
    try {
      storage.setItem(STATE_PREFIX + sessionId, JSON.stringify(state));
    } catch (error) {
      console.warn("support-widget: could not save state:", error.message);
    }
  }

  function keyOf(marker) {
    return marker.ticket_id + ":" + marker.message_id;
  }

  function isShown(key) {
    return state.shown.indexOf(key) !== -1;
  }

  // key: "ticket:message" for an agent's line, "<at> <hash>" for a payload.
  function remember(key) {
    if (!isShown(key)) state.shown.push(key);
    if (state.shown.length > MAX_KEYS) state.shown = state.shown.slice(-MAX_KEYS);
    saveState();
  }

  function setStatus(name) {
    var element = config.status ? document.querySelector(config.status) : null;
    if (!element) return;
    element.textContent = STATUS_TEXT[name];
    element.dataset.state = name;
  }
})();
