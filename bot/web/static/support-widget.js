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
 * After every (re)connection this script reads the conversation's handoff
 * messages from the inbox (GET /webhooks/rest/inbox/<session id>) and shows
 * those not shown yet, once; the keys of shown messages ("ticket:message")
 * are kept in the same storage as the conversation.
 *
 * To do both, the script takes rasa-webchat's own "bot_uttered" listener off
 * the socket.io socket and calls it itself (socket.listeners / socket.off are
 * socket.io's public API). If that ever fails, rasa-webchat shows every
 * message itself, without the agent labels.
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
  var MAX_KEYS = 500;
  var SECOND_LOOK_MS = 2000;
  var STATE_PREFIX = "support-widget.handoff.";
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
    if (!takenOver.has(this)) return; // rasa-webchat's own listener shows it
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
      remember(marker); // held too long and shown plain
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
    remember(marker);
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
    for (var round = 0; round < 10; round += 1) {
      var messages;
      try {
        messages = await readInbox(session, state.after);
      } catch (error) {
        console.warn("support-widget: could not look for missed messages:", error.message);
        return;
      }
      if (session !== sessionId) return;
      messages.forEach(fromInbox);
      if (messages.length) {
        state.after = messages[messages.length - 1].at;
        saveState();
      }
      if (messages.length < INBOX_PAGE) return;
    }
  }

  async function readInbox(session, after) {
    var url = config.server + "/webhooks/rest/inbox/" + encodeURIComponent(session);
    if (after) url += "?after=" + encodeURIComponent(after);
    var response = await fetch(url, { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error("the inbox answered " + response.status);
    var body = await response.json();
    var messages = body && Array.isArray(body.messages) ? body.messages : [];
    return messages.filter(function (message) {
      return message && typeof message.text === "string" && typeof message.at === "string";
    });
  }

  function fromInbox(message) {
    // Only lines with the widget's handoff payload: they have keys, so they
    // are never shown twice (older lines without one were shown live).
    var custom = message.custom && message.custom.data;
    var marker = handoffOf(custom);
    if (!marker || isShown(keyOf(marker))) return;
    flush();
    show(marker, message.text.trim().split("\n\n"));
  }

  // -- what has been shown ---------------------------------------------------------

  function emptyState() {
    return { shown: [], after: null, agents: {} };
  }

  function loadState(id) {
    try {
      var saved = JSON.parse(storage.getItem(STATE_PREFIX + id) || "null");
      if (saved && Array.isArray(saved.shown) && saved.agents && typeof saved.agents === "object") {
        return { shown: saved.shown, after: saved.after || null, agents: saved.agents };
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

  function remember(marker) {
    var key = keyOf(marker);
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
